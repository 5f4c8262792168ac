from django.urls import path

from school_live.sync import views

app_name = "sync"

urlpatterns = [
    path("livings/<str:livingid>/", views.living_sync, name="living"),
    path("runs/<int:run_id>/", views.run_status, name="run"),
    path("school/", views.school_sync, name="school"),
]
