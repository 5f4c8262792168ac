from django.urls import path

from school_live.sync import views
from school_live.wecom import url_converters  # noqa: F401 (registers <livingid:>, <userid:>...)

app_name = "sync"

urlpatterns = [
    path("livings/<livingid:livingid>/", views.living_sync, name="living"),
    path("runs/<pk:run_id>/", views.run_status, name="run"),
    path("school/", views.school_sync, name="school"),
]
