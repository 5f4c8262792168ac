"""Everything the sandbox remembers, behind one lock: the school, the clock, tokens and OAuth
codes, faults, scripted pages, and the messages apps sent. Faults and scripted pages live in
faults.py, changes to livings in living_edits.py; both are mixed into SandboxState here.

Tests drive it from Python; other processes (the demo, browser tests) drive the same methods
through the /sandbox/ control API.
"""

import random
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

from .callback_sender import CallbackConfig, CallbackSender
from .faults import Faults, FaultsMixin, Injection
from .keys import KeySigner
from .lesson_api import LessonsMixin
from .living_edits import LivingEditsMixin
from .model import School, Student
from .notice_api import NoticesMixin
from .school import SchoolConfig, generate_school
from .setup_api import SetupMixin
from .watch import ARRIVAL_SPREAD

DEFAULT_CORP_ID = "ww_sandbox_corp"
DEFAULT_SECRET = "sandbox-secret"  # noqa: S105 - the sandbox's well-known fake secret
DEFAULT_AGENT_ID = 1000002
OAUTH_CODE_TTL = 300  # doc 91023: a code expires after 5 minutes unused
UNWATCH_FOR_CREATED = ("empty", "list")  # the first is the default


def _setting(name: str, default):
    """A WECOM_* Django setting when Django is configured and the value is set, else default."""
    try:
        from django.conf import settings

        value = getattr(settings, name, None)
    except Exception:  # Django not configured: the sandbox also runs without it
        return default
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class CallRecord:
    at: int
    method: str
    path: str
    errcode: int | None  # None for a reply that was not WeCom JSON


class SandboxState(FaultsMixin, LivingEditsMixin, LessonsMixin, NoticesMixin, SetupMixin):
    def __init__(
        self,
        school: School | None = None,
        *,
        corp_id: str | None = None,
        secret: str | None = None,
        agent_id: int | None = None,
        page_size: int = 100,
        token_ttl: int = 7200,
        seed: int = 1,
        callback_token: str = "",
        callback_aes_key: str = "",
    ):
        self.lock = threading.RLock()
        self.seed = seed
        self.school = school or generate_school(SchoolConfig(seed=seed))
        self.corp_id = corp_id or _setting("WECOM_CORP_ID", DEFAULT_CORP_ID)
        self.secret = secret or _setting("WECOM_SECRET", DEFAULT_SECRET)
        self.agent_id = int(agent_id or _setting("WECOM_AGENT_ID", DEFAULT_AGENT_ID))
        # The app's callback Token and EncodingAESKey, when the corp has its own (district.py):
        # set_callbacks() seals with them unless it is given others.
        self.callback_token = callback_token
        self.callback_aes_key = callback_aes_key
        # Once the corp installed a vendor's 代开发 app (suite_vendor.py): its secret, which
        # gettoken takes as well.
        self.permanent_code = ""
        self.page_size = page_size
        self.token_ttl = token_ttl
        self._initial = (page_size, token_ttl)
        self.keys = KeySigner()
        self.sent_messages: list[dict] = []
        self.calls: deque[CallRecord] = deque(maxlen=100_000)
        self._baseline = {lid: living.copy() for lid, living in self.school.livings.items()}
        self._demo_count = 0
        self._created_count = 0
        # Lessons the app creates fill up over this share of their time (watch.py).
        self.arrival_spread = ARRIVAL_SPREAD
        # Status callbacks to the app's URL; sent by the server's pump thread (callback_sender.py).
        self.callbacks = CallbackSender()
        self._clear_runtime()

    def _clear_runtime(self) -> None:
        self._offset = 0
        self._tokens: dict[str, int] = {}  # token -> expires_at (kept after expiry for 42001)
        self._codes: dict[str, tuple[str, int, str]] = {}  # code -> (userid, expires_at, scope)
        self.faults = Faults()
        # gzip the JSON answers for clients that send Accept-Encoding: gzip, as a gateway may.
        self.gzip = False
        self.rng = random.Random(self.seed)
        self._scripts: dict[tuple[str, str], tuple[list[dict], int]] = {}
        self._script_generation = 0
        self._injections: list[Injection] = []
        self._path_faults: list[list] = []  # [path, errcode, times left or None]
        self._clear_notices()
        self._recent_calls: dict[str, deque[int]] = {}
        self._blocked_until: dict[str, int] = {}
        self._rosters: dict[str, tuple[tuple[int, ...], list[Student]]] = {}
        # livingid -> (what the answer depends on, unwatched rows): a 20,000-student roster
        # should not be re-scanned for every page.
        self.unwatch_cache: dict[str, tuple[tuple, list[dict]]] = {}
        # What get_unwatch_stat lists for a living created through living/create (empty range):
        # undocumented (api.md §12), so both are here. "empty" (the default): nobody, as its
        # living_range names no class; "list": the subscribed families of the anchor's classes
        # who have not watched, as for a lesson with classes.
        self.unwatch_for_created = UNWATCH_FOR_CREATED[0]
        self.tickets: dict[str, str] = {}  # "corp" / "agent" -> the latest ticket
        self.ticket_fetches: dict[int, dict[str, int]] = {}  # hour -> fetches per kind
        self._clear_setup()  # the console's settings as the README asks (setup_api.py)

    def reset(self, *, livings: bool = True) -> None:
        """Back to the start: no faults, scripts, tokens, codes, messages or clock offset; and,
        unless livings=False, every living as it was at the baseline."""
        with self.lock:
            self._clear_runtime()
            self.page_size, self.token_ttl = self._initial
            self.sent_messages.clear()
            self.calls.clear()
            self.callbacks.clear()
            if livings:
                self.school.livings = {lid: lv.copy() for lid, lv in self._baseline.items()}

    def mark_baseline(self) -> None:
        """Make the livings as they are now what reset() goes back to."""
        with self.lock:
            self._baseline = {lid: lv.copy() for lid, lv in self.school.livings.items()}

    # -- clock --------------------------------------------------------------------------------

    def clock(self) -> int:
        """Now, in Unix seconds, as the sandbox sees it: real time plus the advanced offset."""
        return int(time.time()) + self._offset

    def advance(self, seconds: int) -> int:
        with self.lock:
            self._offset += int(seconds)
            self.callbacks.poke()  # livings the jump started or ended are called back
            return self.clock()

    def set_unwatch_for_created(self, behaviour: str) -> None:
        """What get_unwatch_stat lists for a living created through living/create: "empty" or
        "list" (see ``unwatch_for_created``). ValueError for anything else."""
        if behaviour not in UNWATCH_FOR_CREATED:
            raise ValueError(f"unwatch_for_created must be one of {list(UNWATCH_FOR_CREATED)}")
        with self.lock:
            self.unwatch_for_created = behaviour
            self.unwatch_cache.clear()

    # -- status callbacks ---------------------------------------------------------------------

    def set_callbacks(self, **config) -> CallbackConfig | None:
        """POST living_status_change events from now on: set_callbacks(url=..., token=...,
        aes_key=..., drop=0.0, repeat=0, delay=0.0, seed=None), sealed with the app's Token and
        EncodingAESKey (url="" switches them off; without token and aes_key, the corp's own
        callback_token and callback_aes_key). ValueError for a bad value."""
        if not config.get("token") and not config.get("aes_key"):
            config.update(token=self.callback_token, aes_key=self.callback_aes_key)
        return self.callbacks.configure(self, **config)

    def callback_log(self) -> list[dict]:
        """What was sent (or dropped), oldest first, with each answer's HTTP status."""
        return self.callbacks.snapshot()["log"]

    # -- tokens and OAuth codes ---------------------------------------------------------------

    def issue_token(self) -> tuple[str, int]:
        with self.lock:
            # Opaque and long, like WeCom's (api.md: reserve 512 bytes).
            token = secrets.token_urlsafe(96)
            self._tokens[token] = self.clock() + self.token_ttl
            return token, self.token_ttl

    def has_token(self, token: str) -> bool:
        """Whether this corp issued the token (expired or not; revoked ones are forgotten)."""
        with self.lock:
            return token in self._tokens

    def token_status(self, token: str) -> int:
        """0 if usable, 40014 if never issued or revoked, 42001 if expired."""
        with self.lock:
            expires_at = self._tokens.get(token)
            if expires_at is None:
                return 40014
            return 0 if self.clock() < expires_at else 42001

    def revoke_tokens(self) -> None:
        """WeCom invalidated every token early (secret reset): they now answer 40014."""
        with self.lock:
            self._tokens.clear()

    def expire_tokens(self) -> None:
        """Every token issued so far is past its expiry: they now answer 42001."""
        with self.lock:
            past = self.clock() - 1
            self._tokens = dict.fromkeys(self._tokens, past)

    def issue_oauth_code(self, userid: str, scope: str = "snsapi_base") -> str:
        with self.lock:
            code = secrets.token_hex(16)
            self._codes[code] = (userid, self.clock() + OAUTH_CODE_TTL, scope)
            return code

    def consume_oauth_code(self, code: str) -> tuple[str, str] | None:
        """(userid, scope) once per code within five minutes; None for a bad, used or old code."""
        with self.lock:
            entry = self._codes.pop(code, None)
            if entry is None or self.clock() >= entry[1]:
                return None
            return entry[0], entry[2]

    # -- messages and calls -------------------------------------------------------------------

    def record_message(self, entry: dict) -> None:
        with self.lock:
            self.sent_messages.append(entry)

    def record_call(self, method: str, path: str, errcode: int | None) -> None:
        with self.lock:
            self.calls.append(CallRecord(self.clock(), method, path, errcode))

    def call_count(self, path: str) -> int:
        with self.lock:
            return sum(1 for call in self.calls if call.path == path)
