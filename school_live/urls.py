from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from school_live.setup_check.views import domain_file
from school_live.sync.callbacks import wecom_callback
from school_live.wecom.login import wecom_login_available

urlpatterns = [
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            extra_context={"wecom_login_available": wecom_login_available}
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/wecom/", include("school_live.wecom.urls")),
    path("wecom/suite/", include("school_live.install.urls")),  # the 代开发 command URL
    path("wecom/callback/", wecom_callback, name="wecom_callback"),
    path("i18n/", include("django.conf.urls.i18n")),
    # WeCom fetches its domain verification file from the root (api.md §20.4).
    re_path(r"^(?P<name>WW_verify_\w+\.txt)$", domain_file, name="wecom_domain_file"),
    path("sync/", include("school_live.sync.urls")),
    path("reports/", include("school_live.reports.urls")),
    path("lessons/", include("school_live.lessons.urls")),
    path("reminders/", include("school_live.reminders.urls")),
    path("", include("school_live.dashboard.urls")),
]
