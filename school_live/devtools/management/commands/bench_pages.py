"""Server time of the dashboard pages on a class of 50 students over 200 livings (the roster
builder the tests use, devtools/roster_builder.py).

The data goes into a throwaway database, never into the configured one: the command runs itself
again in a child process whose ``DATABASE_URL`` points at a SQLite file under ``var/bench/``, or,
with ``--database-url postgres://…/bench_pages_<name>``, at a PostgreSQL database it creates for
the run and drops afterwards (even on failure). The child refuses to build anything in a database
that is not one of those.
"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import environ
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from school_live.devtools.roster_builder import build_class
from school_live.school.changes import attendance_changed
from school_live.school.models import ClassAssignment, Department, StudentWatch, Teacher
from school_live.school.tenancy import default_school

# A PostgreSQL benchmark database must be named so: the command creates and drops it, so the
# prefix keeps it from ever touching a database someone cares about.
PG_PREFIX = "bench_pages_"


def bench_dir() -> Path:
    return Path(settings.VAR_DIR) / "bench"


def _pg_config(url: str) -> dict:
    config = environ.Env.db_url_config(url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise CommandError("--database-url must be a postgres:// URL.")
    if not str(config["NAME"]).startswith(PG_PREFIX):
        raise CommandError(f"The benchmark database's name must start with {PG_PREFIX!r}.")
    return config


def _pg_admin(config: dict):
    """A connection to the server's maintenance database, to create or drop the bench one."""
    import psycopg

    return psycopg.connect(
        dbname="postgres",
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
        host=config.get("HOST") or None,
        port=config.get("PORT") or None,
        autocommit=True,
    )


def _pg_database(config: dict, *, create: bool) -> None:
    from psycopg import sql

    name = sql.Identifier(config["NAME"])
    with _pg_admin(config) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        if create:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(name))


class Command(BaseCommand):
    help = "Measure the class page's server time on 50 students × 200 livings (throwaway DB)."

    def add_arguments(self, parser):
        parser.add_argument("--students", type=int, default=50)
        parser.add_argument("--livings", type=int, default=200)
        parser.add_argument("--runs", type=int, default=7, help="requests per page (median)")
        parser.add_argument(
            "--database-url",
            help=f"a postgres:// URL of a database named {PG_PREFIX}…, created and dropped here "
            "(default: a SQLite file under var/bench/)",
        )
        parser.add_argument("--inner", action="store_true", help="(internal) run in the bench DB")

    def handle(self, *args, **options):
        if options["inner"]:
            return self.inner(options)
        url = options["database_url"]
        if url:
            config = _pg_config(url)
            _pg_database(config, create=True)
            try:
                self.run_child(options, url)
            finally:
                _pg_database(config, create=False)
            return
        folder = bench_dir()
        folder.mkdir(parents=True, exist_ok=True)
        database = folder / f"bench-{os.getpid()}.sqlite3"
        try:
            self.run_child(options, f"sqlite:///{database}")
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{database}{suffix}").unlink(missing_ok=True)

    def run_child(self, options, url: str) -> None:
        env = {**os.environ, "DATABASE_URL": url}
        command = [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "bench_pages",
            "--inner",
            f"--students={options['students']}",
            f"--livings={options['livings']}",
            f"--runs={options['runs']}",
        ]
        result = subprocess.run(command, env=env, check=False)
        if result.returncode:
            raise CommandError("The benchmark failed; see above.")

    def inner(self, options):
        name = str(connection.settings_dict["NAME"])
        if connection.vendor == "postgresql":
            allowed = name.startswith(PG_PREFIX)
        else:
            allowed = connection.vendor == "sqlite" and bench_dir().resolve() in (
                Path(name).resolve().parents
            )
        if not allowed:
            raise CommandError(
                f"Refusing to build benchmark data outside {bench_dir()} or a PostgreSQL "
                f"database named {PG_PREFIX}…: the database is {name}."
            )
        call_command("migrate", verbosity=0, interactive=False)
        started = time.perf_counter()
        user, department, living, student = self.build(
            students=options["students"], livings=options["livings"]
        )
        if connection.vendor == "postgresql":
            # Fresh tables have no statistics until autovacuum comes by: plan as a live database.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        self.stdout.write(
            f"{connection.vendor}: built {options['students']} students × {options['livings']} livings "
            f"in {time.perf_counter() - started:.1f} s ({StudentWatch.objects.count()} watch rows)."
        )
        client = Client()
        client.force_login(user)
        class_url = reverse("dashboard:class", args=[department.wecom_id])

        def class_changed():
            attendance_changed([department.pk])

        # (label, url, before): ``before`` runs ahead of each timed request, untimed.
        pages = [
            # What the class page keeps (its rows, its warnings) computed again, as on the first
            # request after a sync or a correction; first in each round, so that the pages
            # after it find what it kept, as a reader after that first request would.
            ("class page (after a change)", class_url, class_changed),
            ("class page (latest living)", class_url, None),
            (
                "class page (200-living range)",
                f"{class_url}?start=2025-01-01&end=2026-12-31",
                None,
            ),
            (
                "class CSV",
                reverse("dashboard:class_export", args=[department.wecom_id, "csv"]),
                None,
            ),
            ("home", reverse("dashboard:home"), None),
            (
                "living page (latest living)",
                reverse("dashboard:living", args=[living.livingid]),
                None,
            ),
            ("student page", reverse("dashboard:student", args=[student.student_userid]), None),
        ]
        for _label, url, _before in pages:
            client.get(url)  # warm caches (templates, translations)
        # In rounds, every page once per round: a change in the machine's load (other work on
        # its cores) then weighs on every page alike, and the ratios between pages hold.
        timings = {label: [] for label, _url, _before in pages}
        cpu = {label: [] for label, _url, _before in pages}
        queries = {}
        for _run in range(options["runs"]):
            for label, url, before in pages:
                if before is not None:
                    before()
                with CaptureQueriesContext(connection) as captured:
                    begin, begin_cpu = time.perf_counter(), time.process_time()
                    response = client.get(url)
                    timings[label].append((time.perf_counter() - begin) * 1000)
                    cpu[label].append((time.process_time() - begin_cpu) * 1000)
                queries[label] = len(captured)
                if response.status_code != 200:
                    raise CommandError(f"{url} answered {response.status_code}")
        for label, _url, _before in pages:
            # CPU time of this process (SQLite's work included, PostgreSQL's not): steadier
            # than the wall clock on a loaded machine.
            self.stdout.write(
                f"{label:32} median {statistics.median(timings[label]):7.1f} ms  "
                f"(min {min(timings[label]):.1f}, max {max(timings[label]):.1f}; "
                f"CPU median {statistics.median(cpu[label]):.1f}, min {min(cpu[label]):.1f}; "
                f"{queries[label]} queries)"
            )
        csv_cpu = statistics.median(cpu["class CSV"])
        self.stdout.write(
            "class page ÷ class CSV (CPU medians): "
            f"{statistics.median(cpu['class page (latest living)']) / csv_cpu:.2f}, "
            f"after a change {statistics.median(cpu['class page (after a change)']) / csv_cpu:.2f}"
        )

    @transaction.atomic
    def build(self, *, students: int, livings: int):
        school = default_school()
        grade = Department.objects.create(
            school=school, wecom_id=2, name="一年级", type=Department.Type.GRADE
        )
        department = Department.objects.create(
            school=school, wecom_id=3, name="一年级一班", type=Department.Type.CLASS, parent=grade
        )
        user = get_user_model().objects.create_user(username="bench", password=None)
        teacher = Teacher.objects.create(school=school, userid="bench", name="测试老师", user=user)
        ClassAssignment.objects.create(
            school=school, teacher=teacher, department=department, role=ClassAssignment.Role.HEAD
        )
        made = build_class(department, students=students, livings=livings, prefix="b")
        # The second student: the first misses the first living and has no subscribed parent.
        student = department.students.order_by("student_userid")[1]
        # The living page of the latest lesson that has started, the one the class page opens
        # on: the builder's daily livings run past today when there are many of them.
        now = timezone.now()
        started = [living for living in made if living.living_start <= now]
        return user, department, (started or made)[-1], student
