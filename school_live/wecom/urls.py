from django.urls import path

from . import jssdk_views, login

urlpatterns = [
    path("start/", login.wecom_login_start, name="wecom_login"),
    path("callback/", login.wecom_login_callback, name="wecom_login_callback"),
    path("jssdk/signature/", jssdk_views.jssdk_signature, name="wecom_jssdk_signature"),
]
