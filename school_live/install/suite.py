"""The vendor's suite as the install flow uses it: is it configured, its newest ticket, a client.

Without the six vendor settings (``SuiteSettings.from_settings`` is None) the product is the
single-school app: the command callback is a 404, and the install pages and command say which
settings to set.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.utils.translation import gettext as _

from school_live.school.models import from_unix
from school_live.wecom.suite import SuiteClient, SuiteSettings, suite_missing_settings
from school_live.wecom.suite_callback import CommandEvent

from .models import SuiteTicket


class SuiteNotConfigured(Exception):
    """The vendor settings are not all set."""


class EventFailed(Exception):
    """A command event that cannot be carried out; the message says what to do."""


class EventIgnored(Exception):
    """A command event that asks for nothing here (no school has its corp id, a cancel older
    than the last install…): recorded as ignored, with the reason."""


def suite_settings() -> SuiteSettings:
    """The configured suite; ``SuiteNotConfigured`` naming the unset settings otherwise."""
    suite = SuiteSettings.from_settings()
    if suite is None:
        raise SuiteNotConfigured(not_configured_message())
    return suite


def not_configured_message() -> str:
    return _(
        "Installing schools through WeCom (代开发) is not set up on this server: set %(names)s "
        "(服务商后台) in its environment and restart it."
    ) % {"names": ", ".join(suite_missing_settings())}


def ticket_store(event: CommandEvent) -> bool:
    """Keep a pushed suite_ticket unless a newer one is stored; whether it was kept."""
    pushed_at = from_unix(event.timestamp) or from_unix(1)
    current = SuiteTicket.objects.filter(suite_id=event.suite_id).first()
    if current is not None and current.pushed_at > pushed_at:
        return False
    SuiteTicket.objects.update_or_create(
        suite_id=event.suite_id, defaults={"ticket": event.suite_ticket, "pushed_at": pushed_at}
    )
    return True


def ticket_latest(suite_id: str) -> str:
    """The newest ticket ("" when none arrived yet)."""
    row = SuiteTicket.objects.filter(suite_id=suite_id).first()
    return row.ticket.reveal() if row is not None else ""


@contextmanager
def suite_client(**options) -> Iterator[SuiteClient]:
    suite = suite_settings()
    with SuiteClient(suite, ticket=lambda: ticket_latest(suite.suite_id), **options) as client:
        yield client
