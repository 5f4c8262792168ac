from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class SchoolConfig(AppConfig):
    name = "school_live.school"
    label = "school"
    verbose_name = _("school")

    def ready(self) -> None:
        from school_live.school.default_school import default_school_after_migrate

        # Once per migrate, after every migration: the default school from the environment.
        post_migrate.connect(
            default_school_after_migrate, sender=self, dispatch_uid="school.default_school"
        )
