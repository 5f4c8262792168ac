from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InstallConfig(AppConfig):
    name = "school_live.install"
    label = "install"
    verbose_name = _("School installs")
