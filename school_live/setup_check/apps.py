from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SetupCheckConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "school_live.setup_check"
    label = "setup_check"
    verbose_name = _("WeCom connection check")

    def ready(self) -> None:
        from school_live.setup_check import moments

        moments.connect()
