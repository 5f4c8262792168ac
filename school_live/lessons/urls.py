from django.urls import path

from school_live.wecom import url_converters  # noqa: F401 (registers <livingid:>, <userid:>...)

from . import views

app_name = "lessons"

urlpatterns = [
    path("new/", views.lesson_new, name="new"),
    path("classes/<department:class_id>/started/", views.class_started, name="class_started"),
    path("<livingid:livingid>/edit/", views.lesson_edit, name="edit"),
    path("<livingid:livingid>/cancel/", views.lesson_cancel_view, name="cancel"),
    path("<livingid:livingid>/started/", views.living_started, name="started"),
    path("<livingid:livingid>/state.json", views.living_state, name="state"),
]
