"""Add a school: its WeCom corp id, agent id and app secret, stored encrypted.

The secret never comes from the command line (it would stay in the shell's history and in the
process list): it is read from standard input — piped, or typed at a prompt that does not echo —
or, when nothing is piped, from the ``WECOM_SECRET`` environment variable. Prints the new school's
id and nothing else on standard output, so a script can keep it: ``id=$(… add_school …)``.
"""

import getpass
import os
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

from school_live.school.cli import database_ready, encryption_ready
from school_live.school.models import School
from school_live.school.models.tenant import CORP_ID_PATTERN, encoding_aes_key_valid


class Command(BaseCommand):
    help = (
        "Add a school. Its app secret is read from standard input (pipe it, or type it at the "
        "prompt) or, with nothing piped, from WECOM_SECRET; never from the command line. "
        "Prints the new school's id."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("name", help="the school's name, as teachers know it")
        parser.add_argument(
            "--corp-id", required=True, help="企业ID (管理后台 → 我的企业), exactly as shown"
        )
        parser.add_argument(
            "--agent-id", required=True, type=int, help="the app's AgentId (应用管理 → the app)"
        )
        parser.add_argument("--callback-token", default="", help="the app's 接收消息 Token")
        parser.add_argument(
            "--callback-aes-key",
            default="",
            help="the app's 接收消息 EncodingAESKey (43 characters)",
        )

    def handle(self, *args, name, corp_id, agent_id, callback_token, callback_aes_key, **options):
        name = name.strip()
        if not name:
            raise CommandError("The school's name is empty: give the name teachers know it by.")
        if not CORP_ID_PATTERN.fullmatch(corp_id):
            raise CommandError(
                f"--corp-id {corp_id[:70]!r} is not a WeCom corp id: copy 企业ID from 管理后台 → "
                "我的企业 (letters and digits, e.g. ww0123456789abcdef)."
            )
        if agent_id <= 0:
            raise CommandError("--agent-id must be the app's AgentId, a positive number.")
        if bool(callback_token) != bool(callback_aes_key):
            raise CommandError(
                "Give both --callback-token and --callback-aes-key (the app's 接收消息 settings), "
                "or neither."
            )
        if callback_aes_key and not encoding_aes_key_valid(callback_aes_key):
            raise CommandError(
                "--callback-aes-key is not an EncodingAESKey: copy the 43 characters again "
                "from the app's 接收消息 settings in WeCom's admin console."
            )
        database_ready()
        encryption_ready()
        existing = School.objects.filter(corp_id=corp_id).first()
        if existing is not None:
            raise CommandError(self._duplicate(existing, corp_id))
        secret = self._secret(options.get("stdin"))
        try:
            with transaction.atomic():
                school = School.objects.create(
                    name=name,
                    corp_id=corp_id,
                    agent_id=agent_id,
                    secret=secret,
                    callback_token=callback_token,
                    callback_aes_key=callback_aes_key,
                )
        except IntegrityError:  # added by someone else meanwhile
            raise CommandError(
                self._duplicate(School.objects.get(corp_id=corp_id), corp_id)
            ) from None
        self.stderr.write(f"Added school #{school.pk} {name} (corp id {corp_id}).")
        self.stdout.write(str(school.pk))

    @staticmethod
    def _duplicate(existing: School, corp_id: str) -> str:
        which = "the default school (WECOM_CORP_ID)" if existing.from_environment else "a school"
        return (
            f"{which} #{existing.pk} {existing.name} already has corp id {corp_id}: one corp is "
            "one school. Change that school in the admin instead of adding it again."
        )

    def _secret(self, stdin) -> str:
        """The app secret: piped on standard input, typed at a prompt, or WECOM_SECRET."""
        stdin = stdin or sys.stdin
        interactive = getattr(stdin, "isatty", lambda: False)()
        from_environment = os.environ.get("WECOM_SECRET", "")
        if not interactive:
            secret = stdin.read().strip()
        elif from_environment:
            secret = ""
        else:
            secret = getpass.getpass("应用 Secret / the app's Secret (not shown): ").strip()
        if not secret and from_environment:
            if os.environ.get("WECOM_CORP_ID"):
                raise CommandError(
                    "WECOM_SECRET here is the default school's secret (WECOM_CORP_ID is set too). "
                    "Give this school's secret on standard input instead, e.g. "
                    "`python manage.py add_school … < secret.txt`."
                )
            secret = from_environment.strip()
        if not secret:
            raise CommandError(
                "The app secret is empty. Pipe it on standard input (e.g. `python manage.py "
                "add_school … < secret.txt`) or set WECOM_SECRET; copy it from 管理后台 → "
                "应用管理 → the app → Secret."
            )
        if any(character.isspace() for character in secret):
            raise CommandError(
                "The app secret has spaces or several lines: give exactly the Secret shown in "
                "管理后台 → 应用管理 → the app, on one line."
            )
        return secret
