from django.urls import path

from . import login

urlpatterns = [
    path("start/", login.wecom_login_start, name="wecom_login"),
    path("callback/", login.wecom_login_callback, name="wecom_login_callback"),
]
