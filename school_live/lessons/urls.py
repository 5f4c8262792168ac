from django.urls import path

from . import views

app_name = "lessons"

urlpatterns = [
    path("new/", views.lesson_new, name="new"),
    path("classes/<int:class_id>/started/", views.class_started, name="class_started"),
    path("<str:livingid>/edit/", views.lesson_edit, name="edit"),
    path("<str:livingid>/cancel/", views.lesson_cancel_view, name="cancel"),
    path("<str:livingid>/started/", views.living_started, name="started"),
    path("<str:livingid>/state.json", views.living_state, name="state"),
]
