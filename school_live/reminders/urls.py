from django.urls import path

from . import views

app_name = "reminders"

urlpatterns = [
    path(
        "livings/<str:livingid>/classes/<int:class_id>/",
        views.reminder_confirm,
        name="confirm",
    ),
    path("<int:reminder_id>/", views.reminder_detail, name="detail"),
]
