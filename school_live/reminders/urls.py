from django.urls import path

from school_live.wecom import url_converters  # noqa: F401 (registers <livingid:>, <userid:>...)

from . import views

app_name = "reminders"

urlpatterns = [
    path(
        "livings/<livingid:livingid>/classes/<department:class_id>/",
        views.reminder_confirm,
        name="confirm",
    ),
    path("<pk:reminder_id>/", views.reminder_detail, name="detail"),
]
