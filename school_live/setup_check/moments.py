"""When WeCom last showed that sign-in and callbacks work (wecom/signals.py): one row per
school, one UPDATE per moment (an INSERT the first time)."""

from django.utils import timezone

from school_live.wecom.signals import wecom_callback_received, wecom_signed_in

from .models import SchoolWeComState
from .schools import default_school


def moment_note(*, school, field: str) -> None:
    school = school or default_school()
    now = timezone.now()
    if not SchoolWeComState.objects.filter(school=school).update(**{field: now}):
        SchoolWeComState.objects.update_or_create(school=school, defaults={field: now})


def _signed_in(sender, *, school=None, **kwargs) -> None:
    moment_note(school=school, field="last_sign_in_at")


def _callback_received(sender, *, school=None, **kwargs) -> None:
    moment_note(school=school, field="last_callback_at")


def connect() -> None:
    wecom_signed_in.connect(_signed_in, dispatch_uid="setup_check.signed_in")
    wecom_callback_received.connect(_callback_received, dispatch_uid="setup_check.callback")
