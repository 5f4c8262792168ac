"""Make an install link: a pending school and WeCom's install QR for it (api.md §18.5).

    python manage.py install_link --name 阳光实验小学

Prints the school's id, the link, when it expires and the QR code (drawn in the terminal; with
``--svg FILE`` also written as an SVG). The school's admin scans it in WeCom within 10 days; the
school is then installed by itself (see the README, "Schools installed from WeCom").
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from school_live.install.links import LinkRefused, install_link_make, qr_terminal
from school_live.install.suite import SuiteNotConfigured
from school_live.school.cli import database_ready, encryption_ready
from school_live.school.models import School
from school_live.wecom.errors import WeComError


class Command(BaseCommand):
    help = (
        "Make a pending school and its WeCom install link (代开发): print the link, its "
        "expiry and its QR code for the school's admin to scan."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", help="the school's name, as its teachers know it")
        parser.add_argument(
            "--school", type=int, help="a pending school's id: a fresh link for it instead"
        )
        parser.add_argument("--svg", help="also write the QR code to this SVG file")
        parser.add_argument("--no-qr", action="store_true", help="print no QR code")

    def handle(self, *args, name, school, svg, no_qr, **options):
        if bool(name) == bool(school):
            raise CommandError(
                "Give --name NAME for a new school, or --school ID for a fresh link."
            )
        database_ready()
        encryption_ready()
        pending = None
        if school:
            pending = School.objects.filter(pk=school).first()
            if pending is None:
                raise CommandError(
                    f"No school #{school}: `python manage.py install_link --name NAME` makes one."
                )
        try:
            link = install_link_make(name=name or "", school=pending)
        except (SuiteNotConfigured, LinkRefused) as error:
            raise CommandError(str(error)) from None
        except WeComError as error:
            raise CommandError(f"WeCom refused the install link: {error}") from None
        expires = timezone.localtime(link.expires_at)
        self.stdout.write(f"学校 / school #{link.school.pk} {link.school.name} (pending)")
        self.stdout.write(f"安装链接 / install link: {link.qrcode_url}")
        self.stdout.write(f"有效期至 / expires: {expires:%Y-%m-%d %H:%M} ({expires.tzname()})")
        if svg:
            import segno

            segno.make(link.qrcode_url, error="m").save(svg, scale=5, border=2)
            self.stdout.write(f"二维码 / QR code: {svg}")
        if not no_qr:
            qr_terminal(link.qrcode_url, self.stdout)
