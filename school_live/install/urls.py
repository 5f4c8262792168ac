from django.urls import path

from . import views

urlpatterns = [
    path("callback/", views.suite_callback, name="wecom_suite_callback"),
]
