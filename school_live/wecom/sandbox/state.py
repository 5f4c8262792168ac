"""Everything the sandbox remembers, behind one lock: the school, the clock, tokens and OAuth
codes, faults, scripted pages, and the messages apps sent.

Tests drive it from Python; other processes (the demo, browser tests) drive the same methods
through the /sandbox/ control API.
"""

import dataclasses
import random
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

from .keys import KeySigner
from .model import ROW_FIELDS, Living, School, Student, Viewer
from .replies import ApiError
from .school import SchoolConfig, generate_school
from .watch import class_viewers

DEFAULT_CORP_ID = "ww_sandbox_corp"
DEFAULT_SECRET = "sandbox-secret"  # noqa: S105 - the sandbox's well-known fake secret
DEFAULT_AGENT_ID = 1000002
OAUTH_CODE_TTL = 300  # doc 91023: a code expires after 5 minutes unused
INJECTION_KINDS = ("errcode", "http502", "not_json", "html")


def _setting(name: str, default):
    """A WECOM_* Django setting when Django is configured and the value is set, else default."""
    try:
        from django.conf import settings

        value = getattr(settings, name, None)
    except Exception:  # Django not configured: the sandbox also runs without it
        return default
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Faults:
    """Off by default. Probabilities are per call to a /cgi-bin/ path."""

    busy: float = 0.0  # errcode -1, "system busy"
    limit: float = 0.0  # errcode 45009, frequency limit
    http502: float = 0.0  # the gateway answers an HTML 502
    slow: float = 0.0  # the answer comes after slow_seconds
    slow_seconds: float = 1.0
    revoke: float = 0.0  # on a follow-up page, every token is revoked first (→ 40014)
    calls_per_minute: int = 0  # per API path, like WeCom's per-API limit; 0 = none
    seed: int | None = None


@dataclass
class Injection:
    livingid: str
    stat: str  # "watch" or "unwatch"
    page: int  # 1 = the first page
    kind: str  # "errcode", "http502", "not_json" or "html"
    errcode: int
    remaining: int | None  # None: every time


@dataclass(frozen=True)
class CallRecord:
    at: int
    method: str
    path: str
    errcode: int | None  # None for a reply that was not WeCom JSON


class SandboxState:
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
    ):
        self.lock = threading.RLock()
        self.seed = seed
        self.school = school or generate_school(SchoolConfig(seed=seed))
        self.corp_id = corp_id or _setting("WECOM_CORP_ID", DEFAULT_CORP_ID)
        self.secret = secret or _setting("WECOM_SECRET", DEFAULT_SECRET)
        self.agent_id = int(agent_id or _setting("WECOM_AGENT_ID", DEFAULT_AGENT_ID))
        self.page_size = page_size
        self.token_ttl = token_ttl
        self._initial = (page_size, token_ttl)
        self.keys = KeySigner()
        self.sent_messages: list[dict] = []
        self.calls: deque[CallRecord] = deque(maxlen=100_000)
        self._baseline = {lid: living.copy() for lid, living in self.school.livings.items()}
        self._demo_count = 0
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
        self._recent_calls: dict[str, deque[int]] = {}
        self._blocked_until: dict[str, int] = {}
        self._rosters: dict[str, tuple[tuple[int, ...], list[Student]]] = {}
        # livingid -> (what the answer depends on, unwatched rows): a 20,000-student roster
        # should not be re-scanned for every page.
        self.unwatch_cache: dict[str, tuple[tuple, list[dict]]] = {}

    def reset(self, *, livings: bool = True) -> None:
        """Back to the start: no faults, scripts, tokens, codes, messages or clock offset; and,
        unless livings=False, every living as it was at the baseline."""
        with self.lock:
            self._clear_runtime()
            self.page_size, self.token_ttl = self._initial
            self.sent_messages.clear()
            self.calls.clear()
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
            return self.clock()

    # -- tokens and OAuth codes ---------------------------------------------------------------

    def issue_token(self) -> tuple[str, int]:
        with self.lock:
            # Opaque and long, like WeCom's (api.md: reserve 512 bytes).
            token = secrets.token_urlsafe(96)
            self._tokens[token] = self.clock() + self.token_ttl
            return token, self.token_ttl

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

    # -- faults -------------------------------------------------------------------------------

    def set_faults(self, **fields) -> Faults:
        """Replace the faults, e.g. set_faults(busy=0.2, seed=7); unknown names raise TypeError."""
        with self.lock:
            self.faults = Faults(**fields)
            self.rng = random.Random(
                self.faults.seed if self.faults.seed is not None else self.seed
            )
            self._recent_calls.clear()
            self._blocked_until.clear()
            return self.faults

    def clear_faults(self) -> None:
        self.set_faults()

    def draw_fault(self, path: str, *, follow_up_page: bool) -> tuple[str | None, float]:
        """What goes wrong with this call: (None | "http502" | "busy" | "limit" | "revoke",
        seconds to sleep before answering). Draws happen in a fixed order, so a seeded run
        repeats itself."""
        with self.lock:
            faults, rng = self.faults, self.rng
            now = self.clock()
            if faults.calls_per_minute:
                if self._blocked_until.get(path, 0) > now:
                    return "limit", 0.0
                recent = self._recent_calls.setdefault(path, deque())
                while recent and recent[0] <= now - 60:
                    recent.popleft()
                recent.append(now)
                if len(recent) > faults.calls_per_minute:
                    # doc 90454: a minute limit blocks the API for 60 seconds.
                    self._blocked_until[path] = now + 60
                    return "limit", 0.0
            sleep = faults.slow_seconds if faults.slow and rng.random() < faults.slow else 0.0
            if faults.http502 and rng.random() < faults.http502:
                return "http502", sleep
            if faults.busy and rng.random() < faults.busy:
                return "busy", sleep
            if faults.limit and rng.random() < faults.limit:
                return "limit", sleep
            if follow_up_page and faults.revoke and rng.random() < faults.revoke:
                return "revoke", sleep
            return None, sleep

    # -- scripted pages and injected failures -------------------------------------------------

    def script_pages(self, stat: str, livingid: str, pages: list[dict]) -> None:
        if stat not in ("watch", "unwatch"):
            raise ValueError("stat must be 'watch' or 'unwatch'")
        with self.lock:
            self._script_generation += 1
            self._scripts[(stat, livingid)] = (
                [dict(page) for page in pages],
                self._script_generation,
            )

    def script_watch_pages(self, livingid: str, pages: list[dict]) -> None:
        """get_watch_stat for `livingid` serves these bodies in order (merged over errcode 0 /
        errmsg ok), chained by next_keys the sandbox issues. A page without `ending` gets 1 on
        the last page and 0 before; a page without `next_key` gets an issued one."""
        self.script_pages("watch", livingid, pages)

    def script_unwatch_pages(self, livingid: str, pages: list[dict]) -> None:
        self.script_pages("unwatch", livingid, pages)

    def scripted(self, stat: str, livingid: str) -> tuple[list[dict], int] | None:
        return self._scripts.get((stat, livingid))

    def inject(
        self,
        livingid: str,
        *,
        page: int = 1,
        kind: str = "errcode",
        errcode: int = -1,
        stat: str = "watch",
        times: int | None = None,
    ) -> None:
        """Break page `page` (1 = the first call) of a living's watch or unwatch stats:
        kind "errcode" answers `errcode`, "http502" an HTML 502, "not_json" a cut-off body,
        "html" an HTML page with HTTP 200 (a proxy's block page).
        times=None breaks it on every call; times=N on the next N calls only."""
        if kind not in INJECTION_KINDS:
            raise ValueError(f"kind must be one of {INJECTION_KINDS}")
        if stat not in ("watch", "unwatch"):
            raise ValueError("stat must be 'watch' or 'unwatch'")
        with self.lock:
            self._injections.append(Injection(livingid, stat, page, kind, errcode, times))

    def fail_living(self, livingid: str, *, errcode: int = -1, at_page: int = 1, **kwargs) -> None:
        self.inject(livingid, page=at_page, kind="errcode", errcode=errcode, **kwargs)

    def take_injection(self, stat: str, livingid: str, page: int) -> Injection | None:
        with self.lock:
            for injection in self._injections:
                if (injection.stat, injection.livingid, injection.page) != (stat, livingid, page):
                    continue
                if injection.remaining is not None:
                    if injection.remaining <= 0:
                        continue
                    injection.remaining -= 1
                return injection
            return None

    # -- livings ------------------------------------------------------------------------------

    def living(self, livingid: str) -> Living:
        """The living for Python callers; KeyError if the sandbox has none by that id."""
        return self.school.livings[livingid]

    def owned_living(self, livingid: str) -> Living:
        """The living as this app may read it: WeCom answers 92008 both for another app's
        living and for an id it does not know (it does not tell them apart)."""
        living = self.school.livings.get(livingid)
        if living is None or living.foreign:
            raise ApiError(92008, "current app has no permission to operate this living")
        return living

    def roster(self, living: Living) -> list[Student]:
        cached = self._rosters.get(living.livingid)
        if cached is None or cached[0] != living.partyids:
            cached = (living.partyids, self.school.roster(living.partyids))
            self._rosters[living.livingid] = cached
        return cached[1]

    def update_watch(
        self, livingid: str, student_userid: str, *, match_parent: object = ..., **fields
    ) -> int:
        """Change what WeCom reports for a student's rows, e.g. update_watch(lid, "wangwei",
        watch_time=1200, is_comment=1). match_parent="x_mama" picks one of two parents' rows
        (None: the row of the student's own account). Returns the number of rows changed."""
        unknown = set(fields) - ROW_FIELDS
        if unknown:
            raise TypeError(f"unknown watch fields: {sorted(unknown)}")
        with self.lock:
            living = self.living(livingid)
            changed = 0
            for i, viewer in enumerate(living.viewers):
                if viewer.student_userid.lower() != student_userid.lower():
                    continue
                if match_parent is not ... and viewer.parent_userid != match_parent:
                    continue
                living.viewers[i] = _apply(viewer, fields)
                changed += 1
            if not changed:
                raise LookupError(f"{student_userid} has no watch row in {livingid}")
            living.sort_viewers()
            return changed

    def add_watcher(
        self,
        livingid: str,
        student_userid: str,
        *,
        parent_userid: str | None = None,
        enter_time: int | None = None,
        leave_time: int | None = None,
        watch_time: int | None = None,
        is_comment: int = 0,
        partyids: tuple[int, ...] | None = None,
    ) -> None:
        """A new row; by default present for the whole living. The student need not be on the
        roster (WeCom can report a student the contact book sync has not seen yet)."""
        with self.lock:
            living = self.living(livingid)
            student = self.school.students.get(student_userid.lower())
            if partyids is None:
                partyids = student.departments if student else living.partyids[:1]
            viewer = _new_viewer(living, enter_time, leave_time, watch_time, is_comment)
            living.viewers.append(
                dataclasses.replace(
                    viewer,
                    student_userid=student_userid,
                    parent_userid=parent_userid,
                    partyids=tuple(partyids),
                )
            )
            living.sort_viewers()

    def add_visitor(self, livingid: str, nickname: str, **times) -> None:
        with self.lock:
            living = self.living(livingid)
            viewer = _new_viewer(
                living,
                times.get("enter_time"),
                times.get("leave_time"),
                times.get("watch_time"),
                times.get("is_comment", 0),
            )
            living.viewers.append(dataclasses.replace(viewer, nickname=nickname))
            living.sort_viewers()

    def remove_watcher(self, livingid: str, student_userid: str) -> int:
        with self.lock:
            living = self.living(livingid)
            before = len(living.viewers)
            living.viewers = [
                v for v in living.viewers if v.student_userid.lower() != student_userid.lower()
            ]
            living.sort_viewers()
            return before - len(living.viewers)

    def start_living_now(self, livingid: str, *, duration: int | None = None) -> Living:
        """The living starts at the sandbox's now; its viewers' times move with it."""
        with self.lock:
            living = self.living(livingid)
            delta = self.clock() - living.living_start
            living.living_start += delta
            if duration is not None:
                living.living_duration = int(duration)
            living.viewers = [v.shifted(delta) for v in living.viewers]
            living.sort_viewers()
            return living

    def end_living_now(self, livingid: str) -> Living:
        """The anchor ends the living now: whoever is in the room leaves, nobody else joins
        live; replay viewing (after the old end) moves to after the new end."""
        with self.lock:
            living = self.living(livingid)
            now = max(self.clock(), living.living_start + 1)
            old_end = living.living_end
            viewers = []
            for viewer in living.viewers:
                segments = []
                for s, e in viewer.segments:
                    if s >= old_end:
                        segments.append((s - old_end + now, e - old_end + now))
                    elif s < now:
                        segments.append((s, min(e, now)))
                if segments:
                    viewers.append(dataclasses.replace(viewer, segments=tuple(segments)))
            living.viewers = viewers
            living.living_duration = now - living.living_start
            living.sort_viewers()
            return living

    def schedule_demo_living(
        self,
        *,
        start_in: int = 120,
        duration: int = 600,
        anchor_userid: str | None = None,
        partyids: tuple[int, ...] | None = None,
        theme: str = "数学：认识钟表（演示直播）",
    ) -> Living:
        """A living that starts `start_in` seconds from the sandbox's now and lasts `duration`
        seconds; its class joins by the clock, so stats grow while it is live."""
        duration = max(int(duration), 120)
        with self.lock:
            if anchor_userid is None or partyids is None:
                klass = next(d for d in self.school.departments.values() if d.type == 1)
                head = next(a for a in klass.admins if a.type == 3)
                anchor_userid = anchor_userid or head.userid
                partyids = partyids or (klass.id,)
            self._demo_count += 1
            rng = random.Random(f"demo-{self.seed}-{self._demo_count}")
            start = self.clock() + int(start_in)
            living = Living(
                livingid="lv" + secrets.token_urlsafe(22).replace("-", "x").replace("_", "y"),
                theme=theme,
                anchor_userid=anchor_userid,
                living_start=start,
                living_duration=duration,
                partyids=tuple(partyids),
                subscribe_count=rng.randint(5, 20),
            )
            living.viewers = class_viewers(
                rng,
                start=start,
                duration=duration,
                roster=self.school.roster(living.partyids),
                open_replay=True,
                nicknames=("小明妈妈", "<script>alert(1)</script>"),
            )
            living.sort_viewers()
            self.school.livings[living.livingid] = living
            return living

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


def _new_viewer(living, enter_time, leave_time, watch_time, is_comment) -> Viewer:
    enter = living.living_start if enter_time is None else int(enter_time)
    leave = living.living_end if leave_time is None else int(leave_time)
    overrides = []
    if watch_time is not None and watch_time != leave - enter:
        overrides.append(("watch_time", int(watch_time)))
    return Viewer(
        segments=((enter, max(leave, enter)),),
        comments=1 if is_comment else 0,
        overrides=tuple(overrides),
    )


def _apply(viewer: Viewer, fields: dict) -> Viewer:
    changes: dict = {}
    overrides = dict(viewer.overrides)
    for name, value in fields.items():
        if name == "is_comment":
            changes["comments"] = max(1, viewer.comments) if value else 0
        elif name == "parent_userid":
            changes["parent_userid"] = value or None
        elif name == "partyids":
            changes["partyids"] = tuple(value)
        else:
            overrides[name] = value
    return dataclasses.replace(viewer, overrides=tuple(overrides.items()), **changes)
