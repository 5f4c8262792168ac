"""python manage.py wecom_sandbox --port 8765: the fake WeCom for the demo and manual testing.

--corps N serves N schools (corps) with the same department ids and userids (district.py): the
first with the corp id, secret and agent id given here (or WECOM_*), the others with made-up
credentials the command prints; --callback-url-template calls each corp back at its own URL.
--suite-url adds a vendor's 代开发 app the corps can install (POST /sandbox/suite/scan, see
suite_api.py), sealing its command events for that URL."""

import dataclasses
import os
import signal
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from school_live.wecom_sandbox import (
    DEFAULT_AGENT_ID,
    DEFAULT_CORP_ID,
    DEFAULT_SECRET,
    SandboxDistrict,
    SandboxServer,
    SandboxState,
    SchoolConfig,
    district_credentials,
    generate_school,
)
from school_live.wecom_sandbox.control_api import summary
from school_live.wecom_sandbox.server import is_loopback
from school_live.wecom_sandbox.suite_model import VendorCredentials
from school_live.wecom_sandbox.suite_vendor import SandboxVendor
from school_live.wecom_sandbox.watch import ARRIVAL_SPREAD

SUITE_SETTINGS = (
    "WECOM_PROVIDER_CORP_ID",
    "WECOM_PROVIDER_SECRET",
    "WECOM_SUITE_ID",
    "WECOM_SUITE_SECRET",
    "WECOM_SUITE_TOKEN",
    "WECOM_SUITE_AES_KEY",
)


class Command(BaseCommand):
    help = (
        "Serve the WeCom sandbox (a fake WeCom with a generated school) on a loopback address. "
        "Its /sandbox/ control API is documented in school_live/wecom_sandbox/control_api.py."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="a loopback address only")
        parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--corps", type=int, default=1, help="schools (corps) served, with the same ids"
        )
        parser.add_argument("--corp-id", default=None, help="default: WECOM_CORP_ID or sandbox's")
        parser.add_argument("--secret", default=None, help="default: WECOM_SECRET or sandbox's")
        parser.add_argument("--agent-id", type=int, default=None)
        parser.add_argument("--page-size", type=int, default=100)
        parser.add_argument("--token-ttl", type=int, default=7200, metavar="SECONDS")
        parser.add_argument("--grades", type=int, default=2)
        parser.add_argument("--classes-per-grade", type=int, default=3)
        parser.add_argument("--students-per-class", type=int, default=40)
        parser.add_argument("--weeks", type=int, default=4)
        parser.add_argument("--livings-per-teacher-per-week", type=int, default=2)
        parser.add_argument("--big-living-rows", type=int, default=0)
        parser.add_argument("--fault-busy", type=float, default=0.0, help="probability of -1")
        parser.add_argument("--fault-limit", type=float, default=0.0, help="probability of 45009")
        parser.add_argument("--fault-502", type=float, default=0.0, help="probability of HTTP 502")
        parser.add_argument("--fault-slow", type=float, default=0.0, help="probability of a delay")
        parser.add_argument("--fault-slow-seconds", type=float, default=1.0)
        parser.add_argument(
            "--fault-revoke", type=float, default=0.0, help="probability of a mid-paging revoke"
        )
        parser.add_argument("--calls-per-minute", type=int, default=0, help="per API; 0 = none")
        parser.add_argument(
            "--demo-living-in",
            type=int,
            default=120,
            metavar="SECONDS",
            help="a living that goes live this long after start (negative: none)",
        )
        parser.add_argument("--demo-living-duration", type=int, default=600, metavar="SECONDS")
        parser.add_argument(
            "--arrival-spread",
            type=float,
            default=ARRIVAL_SPREAD,
            metavar="SHARE",
            help="students of the lessons the app creates arrive over this share of each "
            f"lesson ({ARRIVAL_SPREAD})",
        )
        parser.add_argument(
            "--callback-url",
            default=os.environ.get("WECOM_SANDBOX_CALLBACK_URL", ""),
            help="POST living_status_change callbacks here, sealed with WECOM_CALLBACK_TOKEN and "
            "WECOM_CALLBACK_AES_KEY from the environment (default: WECOM_SANDBOX_CALLBACK_URL)",
        )
        parser.add_argument(
            "--callback-drop", type=float, default=0.0, help="probability a callback is lost"
        )
        parser.add_argument("--callback-repeat", type=int, default=0, help="extra copies of each")
        parser.add_argument("--callback-delay", type=float, default=0.0, metavar="SECONDS")
        parser.add_argument(
            "--callback-url-template",
            default="",
            help="with --corps: call each other corp back at this URL with {corp_id} filled in "
            "(e.g. http://127.0.0.1:8000/wecom/callback/{corp_id}/), sealed with its own keys",
        )
        parser.add_argument(
            "--suite-url",
            default="",
            help="a vendor's 代开发 app whose schools are the corps (suite_vendor.py): its "
            "command URL (e.g. http://127.0.0.1:8000/wecom/suite/callback/); its credentials "
            "are the WECOM_PROVIDER_* and WECOM_SUITE_* settings",
        )
        parser.add_argument("--suite-ticket-interval", type=float, default=600.0, metavar="S")

    def handle(self, *args, **options):
        if not is_loopback(options["host"]):
            raise CommandError("The sandbox has an unauthenticated control API: loopback only.")
        if options["corps"] < 1:
            raise CommandError("--corps is the number of schools served: 1 or more.")
        started = time.monotonic()
        config = SchoolConfig(
            seed=options["seed"],
            grades=options["grades"],
            classes_per_grade=options["classes_per_grade"],
            students_per_class=options["students_per_class"],
            weeks=options["weeks"],
            livings_per_teacher_per_week=options["livings_per_teacher_per_week"],
            big_living_rows=options["big_living_rows"],
        )
        district = self._district(config, options)
        state = district.default
        for corp in district:
            corp.set_faults(
                busy=options["fault_busy"],
                limit=options["fault_limit"],
                http502=options["fault_502"],
                slow=options["fault_slow"],
                slow_seconds=options["fault_slow_seconds"],
                revoke=options["fault_revoke"],
                calls_per_minute=options["calls_per_minute"],
                seed=options["seed"] if corp is state else corp.seed,
            )
            corp.arrival_spread = options["arrival_spread"]
        demo = None
        if options["demo_living_in"] >= 0:
            demo = state.schedule_demo_living(
                start_in=options["demo_living_in"],
                duration=options["demo_living_duration"],
                spread=options["arrival_spread"],
            )
        for corp in district:
            corp.mark_baseline()
        if options["callback_url"]:
            # The secrets come from the environment only: a command line shows in `ps`.
            try:
                state.set_callbacks(
                    url=options["callback_url"],
                    token=settings.WECOM_CALLBACK_TOKEN,
                    aes_key=settings.WECOM_CALLBACK_AES_KEY,
                    drop=options["callback_drop"],
                    repeat=options["callback_repeat"],
                    delay=options["callback_delay"],
                    seed=options["seed"],
                )
            except ValueError as error:
                raise CommandError(f"Callbacks: {error}") from None
        template = options["callback_url_template"]
        if template and "{corp_id}" not in template:
            raise CommandError("--callback-url-template must hold {corp_id}.")
        for corp in district.states[1:] if template else ():
            corp.set_callbacks(url=template.format(corp_id=corp.corp_id), seed=options["seed"])

        if options["suite_url"]:
            self._vendor(district, options)
        server = SandboxServer(district, host=options["host"], port=options["port"])
        try:
            server.start()
        except OSError as error:
            raise CommandError(
                f"Cannot listen on {options['host']}:{options['port']}: {error}"
            ) from error
        self._describe(server, state, demo, time.monotonic() - started)
        self._describe_corps(district)
        if district.vendor is not None:
            self.stdout.write(
                f"代开发 vendor: suite {district.vendor.credentials.suite_id} → "
                f"{options['suite_url']}; a school installs with POST /sandbox/suite/scan "
                '{"qrcode_url": ..., "corp": ...} (see suite_api.py)'
            )

        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
            self.stdout.write("WeCom sandbox stopped.")

    @staticmethod
    def _vendor(district: SandboxDistrict, options) -> None:
        """The vendor of --suite-url, with the site's vendor settings (never the command line:
        it shows in `ps`)."""
        names = [name for name in SUITE_SETTINGS if not getattr(settings, name, "")]
        if names:
            raise CommandError(f"--suite-url: set {', '.join(names)} (the site's too).")
        credentials = VendorCredentials(
            provider_corp_id=settings.WECOM_PROVIDER_CORP_ID,
            suite_id=settings.WECOM_SUITE_ID,
            provider_secret=settings.WECOM_PROVIDER_SECRET,
            suite_secret=settings.WECOM_SUITE_SECRET,
            token=settings.WECOM_SUITE_TOKEN,
            aes_key=settings.WECOM_SUITE_AES_KEY,
        )
        vendor = SandboxVendor.attach(district, credentials)
        try:  # the first ticket is pushed now; a site not up yet gets the next one
            vendor.configure(
                url=options["suite_url"], ticket_interval=options["suite_ticket_interval"]
            )
        except ValueError as error:
            raise CommandError(f"--suite-url: {error}") from None

    @staticmethod
    def _district(config: SchoolConfig, options) -> SandboxDistrict:
        """One corp as always, or --corps of them sharing ids, the first as configured."""
        first = {
            "corp_id": options["corp_id"],
            "secret": options["secret"],
            "agent_id": options["agent_id"],
            "page_size": options["page_size"],
            "token_ttl": options["token_ttl"],
        }
        if options["corps"] == 1:
            return SandboxDistrict(
                [SandboxState(generate_school(config), seed=options["seed"], **first)]
            )
        # The first corp's credentials as a one-corp sandbox has them (options, else WECOM_*).
        credentials = district_credentials(options["corps"], seed=config.seed)
        credentials[0] = dataclasses.replace(
            credentials[0],
            corp_id=first["corp_id"] or settings.WECOM_CORP_ID or DEFAULT_CORP_ID,
            secret=first["secret"] or settings.WECOM_SECRET or DEFAULT_SECRET,
            agent_id=first["agent_id"] or settings.WECOM_AGENT_ID or DEFAULT_AGENT_ID,
        )
        return SandboxDistrict.generate(
            options["corps"],
            config,
            page_size=options["page_size"],
            token_ttl=options["token_ttl"],
            credentials=credentials,
        )

    def _describe_corps(self, district: SandboxDistrict) -> None:
        if len(district) == 1:
            return
        self.stdout.write(f"{len(district)} corps, the same department ids and userids in each:")
        for corp, state in zip(district.credentials, district, strict=True):
            if state is district.default:
                self.stdout.write(f"  {state.corp_id}  agent {state.agent_id}  {corp.school_name}")
                continue
            # Made up by the sandbox from --seed (district_credentials): fakes, like its default.
            self.stdout.write(
                f"  {state.corp_id}  agent {state.agent_id}  {corp.school_name}  "
                f"secret {corp.secret}  callback token {corp.callback_token} "
                f"aes key {corp.callback_aes_key}"
            )
        self.stdout.write("Control API: add ?corp=<corp id> (default: the first corp).")
        self.stdout.flush()

    def _describe(self, server, state, demo, seconds) -> None:
        info = summary(state)
        out = self.stdout
        out.write(f"WeCom sandbox listening on {server.url} (built in {seconds:.1f}s)")
        # A secret taken from the settings may be real: name it rather than print it.
        shown = state.secret if state.secret == DEFAULT_SECRET else "<your WECOM_SECRET>"
        out.write(
            f"set WECOM_API_BASE={server.url} WECOM_OAUTH_BASE={server.url} "
            f"WECOM_CORP_ID={state.corp_id} WECOM_SECRET={shown} "
            f"WECOM_AGENT_ID={state.agent_id}"
        )
        counts = info["counts"]
        out.write(
            f"{info['school']}: {counts['classes']} classes, {counts['students']} students "
            f"({counts['unreachable_students']} unreachable), {counts['teachers']} teachers, "
            f"{counts['livings']} livings, {counts['watch_rows']} watch rows"
        )
        out.write("Teachers:")
        for teacher in info["teachers"][:20]:
            classes = ", ".join(c["name"] for c in teacher["classes"][:4])
            out.write(f"  {teacher['userid']:<16} {teacher['name']:<4} {classes}")
        livings = info["livings"]
        for label, key in (("Live now", "live"), ("Upcoming", "upcoming"), ("Recent", "recent")):
            for living in livings[key][:3]:
                out.write(f"  {label:<9} {living['livingid']}  {living['theme']}")
        if demo is not None:
            out.write(
                f"  Demo      {demo.livingid}  starts in {demo.living_start - state.clock()}s"
            )
        for living in livings["foreign"]:
            out.write(f"  Other app {living['livingid']}  (answers 92008)")
        if livings["big"]:
            out.write(f"  Big       {livings['big']}")
        config = state.callbacks.config
        if config is not None:
            out.write(
                f"Callbacks → {config.url} (drop {config.drop}, repeat {config.repeat}, "
                f"delay {config.delay}s)"
            )
        out.write(
            "Control API: GET /sandbox/summary (see wecom_sandbox/control_api.py). Ctrl-C stops."
        )
        out.flush()
