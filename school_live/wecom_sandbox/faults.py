"""What goes wrong on purpose: random faults per call, and pages of a living's stats that are
scripted or broken. Methods of SandboxState, behind its lock; see state.py."""

import random
from collections import deque
from dataclasses import dataclass

INJECTION_KINDS = ("errcode", "http502", "not_json", "html")


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


class FaultsMixin:
    """SandboxState's faults, scripted pages and injections (it provides lock, clock and seed)."""

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

    def inject_errcode(self, path: str, errcode: int, *, times: int | None = 1) -> None:
        """Every call to `path` (e.g. "/cgi-bin/externalcontact/message/send") answers
        `errcode` (-1, 45009, 48002, ...) after the token check: the next `times` calls, or every
        call when times is None."""
        if not path.startswith("/cgi-bin/"):
            raise ValueError("path must start with /cgi-bin/")
        with self.lock:
            self._path_faults.append([path, int(errcode), times])

    def take_path_fault(self, path: str) -> int | None:
        with self.lock:
            for fault in self._path_faults:
                if fault[0] != path or (fault[2] is not None and fault[2] <= 0):
                    continue
                if fault[2] is not None:
                    fault[2] -= 1
                return fault[1]
            return None

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
