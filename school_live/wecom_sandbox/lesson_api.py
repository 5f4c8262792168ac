"""Creating livings as an app does (api.md §14, §15): living/create, modify and cancel, the JS-SDK
tickets, and what ww.startLiving does on the phone (the stand-in ww calls it through the control
API). Handlers run under the state's lock."""

import random
import secrets

from .model import Living
from .replies import ApiError
from .watch import arriving_viewers

THEME_MAX_CHARS = 20  # doc 93637: living/create's theme
MODIFY_THEME_MAX_BYTES = 60  # doc 93640
DESCRIPTION_MAX_CHARS = 100
CREATE_TYPES = {0, 1, 2, 3, 4}
SCHOOL_TYPES = {1, 2}  # 小班课 and 大班课: K12 schools only
# ww.startLiving's liveType (doc 93824) → living/create's type (doc 93637).
JSSDK_LIVE_TYPES = {0: 0, 1: 3, 2: 2, 3: 1}
TICKET_TTL = 7200
# doc 90506: ≤ 400 corp-ticket and ≤ 100 app-ticket fetches an hour (45009 beyond).
TICKET_LIMITS = {"corp": 400, "agent": 100}
MAX_JSSDK_DEPARTMENTS = 100


def _int(body: dict, name: str, *, required: bool = False, default: int = 0) -> int:
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(40063, f"params is empty, {name} missing")
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(40058, f"Warning: wrong json format. {name} must be an integer")
    return value


def _text(body: dict, name: str, *, required: bool = False) -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise ApiError(40063, f"params is empty, {name} missing")
        return ""
    if not isinstance(value, str):
        raise ApiError(40058, f"Warning: wrong json format. {name} must be a string")
    return value


def _fields(body: dict, *, modify: bool) -> dict:
    theme = _text(body, "theme", required=True)
    if modify:
        if len(theme.encode()) > MODIFY_THEME_MAX_BYTES:
            raise ApiError(40058, "invalid theme: too long")
    elif len(theme) > THEME_MAX_CHARS:
        raise ApiError(40058, "invalid theme: too long")
    living_type = _int(body, "type")
    if living_type not in CREATE_TYPES:
        raise ApiError(40058, "invalid type")
    description = _text(body, "description")
    if len(description) > DESCRIPTION_MAX_CHARS:
        raise ApiError(40058, "invalid description: too long")
    living_duration = _int(body, "living_duration", required=True)
    living_start = _int(body, "living_start", required=True)
    remind_time = _int(body, "remind_time")
    if living_duration <= 0 or living_start <= 0 or remind_time < 0:
        raise ApiError(40058, "invalid living_start, living_duration or remind_time")
    return {
        "theme": theme,
        "living_type": living_type,
        "description": description,
        "living_start": living_start,
        "living_duration": living_duration,
        "remind_time": remind_time,
    }


def create(state, request) -> dict:
    # WeCom doc 93637: living/create
    body = request.json()
    anchor = _text(body, "anchor_userid", required=True)
    teacher = state.school.teachers.get(anchor.lower())
    if teacher is None:
        raise ApiError(60111, f"userid not found: {anchor}")
    fields = _fields(body, modify=False)
    with state.lock:
        living = state.living_create(anchor_userid=teacher.userid, partyids=(), **fields)
    return {"livingid": living.livingid}


def _reserved(state, livingid: str) -> Living:
    living = state.owned_living(livingid)
    if living.status(state.clock()) != 0:
        raise ApiError(92006, "living has already started or was cancelled")
    return living


def modify(state, request) -> dict:
    # WeCom doc 93640: living/modify (reserved livings of this app only)
    body = request.json()
    livingid = _text(body, "livingid", required=True)
    with state.lock:
        living = _reserved(state, livingid)
        fields = _fields(body, modify=True)
        living.theme = fields["theme"]
        living.living_type = fields["living_type"]
        living.description = fields["description"]
        living.remind_time = fields["remind_time"]
        living.living_duration = fields["living_duration"]
        if fields["living_start"] != living.living_start:
            delta = fields["living_start"] - living.living_start
            living.living_start = fields["living_start"]
            living.viewers = [v.shifted(delta) for v in living.viewers]
        living.sort_viewers()
    return {}


def cancel(state, request) -> dict:
    # WeCom doc 93638: living/cancel (reserved livings only; status becomes 4)
    body = request.json()
    livingid = _text(body, "livingid", required=True)
    with state.lock:
        living = _reserved(state, livingid)
        living.cancelled = True
        living.version += 1
    state.callbacks.poke()
    return {}


def _ticket(state, kind: str) -> dict:
    with state.lock:
        hour = state.clock() // 3600
        counts = state.ticket_fetches.setdefault(hour, {"corp": 0, "agent": 0})
        if counts[kind] >= TICKET_LIMITS[kind]:
            raise ApiError(45009, "api freq out of limit")
        counts[kind] += 1
        ticket = secrets.token_urlsafe(48)
        state.tickets[kind] = ticket
    return {"ticket": ticket, "expires_in": TICKET_TTL}


def get_jsapi_ticket(state, request) -> dict:
    # WeCom doc 90506: the corp's jsapi_ticket
    return _ticket(state, "corp")


def ticket_get(state, request) -> dict:
    # WeCom doc 90506: ticket/get?type=agent_config, the app's ticket
    if request.query.get("type") != "agent_config":
        raise ApiError(40058, "invalid type")
    return _ticket(state, "agent")


class LessonsMixin:
    """SandboxState's side of creating and starting livings (lock, clock, school, seed)."""

    def living_create(
        self,
        *,
        anchor_userid: str,
        partyids: tuple[int, ...],
        theme: str,
        living_start: int,
        living_duration: int,
        living_type: int = 2,
        remind_time: int = 0,
        description: str = "",
    ) -> Living:
        """A living this app created; its classes' students join by the clock once it starts."""
        with self.lock:
            self._created_count += 1
            living = Living(
                livingid="lv" + secrets.token_urlsafe(22).replace("-", "x").replace("_", "y"),
                theme=theme,
                anchor_userid=anchor_userid,
                living_start=living_start,
                living_duration=living_duration,
                partyids=tuple(partyids),
                living_type=living_type,
                remind_time=remind_time,
                description=description,
                created=not partyids,
            )
            self._fill_viewers(living)
            self.school.livings[living.livingid] = living
            self.callbacks.poke()  # one started by ww.startLiving is live at once
            return living

    def created_classes(self, living: Living) -> tuple[int, ...]:
        """The classes whose students join a living: its range, or for one created through
        living/create (no class field) the anchor's classes (the teacher shares the lesson
        with them)."""
        return living.partyids or tuple(
            d.id for d, _admin in self.school.teacher_classes(living.anchor_userid)
        )

    def _fill_viewers(self, living: Living) -> None:
        # By the seed and the order of creation (livingids are random): the same arrivals for
        # the same seed.
        rng = random.Random(f"created-{self.seed}-{self._created_count}")
        # living/create has no class field: whoever joins comes from the anchor's classes (the
        # teacher shares the lesson with them), while living_range stays empty.
        classes = self.created_classes(living)
        roster = self.school.roster(classes) if classes else []
        living.viewers = arriving_viewers(
            rng,
            start=living.living_start,
            duration=living.living_duration,
            roster=roster,
            open_replay=bool(living.open_replay),
            spread=self.arrival_spread,
        )
        living.sort_viewers()

    def start_by_jssdk(self, *, userid: str, params: dict) -> Living:
        """What ww.startLiving does for ``userid``: open a reserved living and start it now, or
        create a class lesson (liveType 2 or 3 with departmentIds) and start it. Errors are
        ApiErrors whose reason is ww's errMsg."""
        with self.lock:
            teacher = self.school.teachers.get((userid or "").lower())
            if teacher is None:
                raise ApiError(60111, "startLiving:fail user not in allow list")
            livingid = params.get("livingId")
            if livingid:
                living = self.school.livings.get(str(livingid))
                if living is None or living.foreign:
                    raise ApiError(92008, "startLiving:fail invalid living id")
                if living.cancelled:
                    raise ApiError(92006, "startLiving:fail invalid living id")
                if living.status(self.clock()) == 0:
                    self.start_living_now(living.livingid)
                return living
            live_type = params.get("liveType", 0)
            if live_type not in JSSDK_LIVE_TYPES:
                raise ApiError(40058, "startLiving:fail unsupported liveType")
            theme = params.get("theme") or ""
            if not isinstance(theme, str) or len(theme) > THEME_MAX_CHARS:
                raise ApiError(40058, "startLiving:fail invalid parameter")
            departments = params.get("departmentIds") or []
            if not isinstance(departments, list) or len(departments) > MAX_JSSDK_DEPARTMENTS:
                raise ApiError(40058, "startLiving:fail exceed department id list size")
            visible = {d.id for d, _admin in self.school.teacher_classes(teacher.userid)}
            if live_type in (2, 3):
                if any(not isinstance(d, int) or d not in visible for d in departments):
                    raise ApiError(60123, "startLiving:fail invalid department id")
            elif departments:
                raise ApiError(40058, "startLiving:fail invalid parameter")
            return self.living_create(
                anchor_userid=teacher.userid,
                partyids=tuple(departments),
                theme=theme or "直播",
                living_start=self.clock(),
                living_duration=45 * 60,
                living_type=JSSDK_LIVE_TYPES[live_type],
            )
