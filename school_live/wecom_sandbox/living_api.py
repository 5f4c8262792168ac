"""上课直播 endpoints: living ids of a teacher, a living's details, who watched and who did not.

Handlers run under the state's lock and read the clock once, so one page is one consistent
moment. Stats are served in order of first entry: while a living is live, new joiners are
appended, and a client paging through it never sees the same row twice.
"""

from .model import Living
from .replies import ApiError, bad_gateway, cut_off_json, html_page_200

# doc 93739: limit defaults to 100 and may not exceed it. WeCom's wording ("最大值100") reads as
# a cap rather than a validation rule, so a larger limit is clamped to 100 instead of refused.
MAX_LIVINGID_LIMIT = 100


def _string(body: dict, name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        # proto3 JSON: an empty string and an absent field are the same thing to WeCom.
        if required:
            # Doc 90313: 40063 参数为空, "必填的参数缺少".
            raise ApiError(40063, f"params is empty, {name} missing")
        return None
    if not isinstance(value, str):
        raise ApiError(40058, f"Warning: wrong json format. {name} must be a string")
    return value


def _position(state, scope: str, key: str | None) -> int:
    if key is None or key == "0":  # doc 93741: the first call may pass "0"
        return 0
    position = state.keys.parse(scope, key)
    if position is None:
        raise ApiError(40058, "invalid next_key")
    return position


def _injected(state, stat: str, livingid: str, page: int) -> None:
    injection = state.take_injection(stat, livingid, page)
    if injection is None:
        return
    if injection.kind == "http502":
        raise bad_gateway()
    if injection.kind == "not_json":
        raise cut_off_json()
    if injection.kind == "html":
        raise html_page_200()
    raise ApiError(injection.errcode, "injected failure")


def get_watch_stat(state, request) -> dict:
    # WeCom doc 93741: school/living/get_watch_stat (V1)
    body = request.json()
    livingid = _string(body, "livingid", required=True)
    return _stat_page(state, "watch", livingid, _string(body, "next_key"))


def get_unwatch_stat(state, request) -> dict:
    # WeCom doc 93742: school/living/get_unwatch_stat (V1)
    body = request.json()
    livingid = _string(body, "livingid", required=True)
    return _stat_page(state, "unwatch", livingid, _string(body, "next_key"))


def _stat_page(state, stat: str, livingid: str, key: str | None) -> dict:
    script = state.scripted(stat, livingid)
    if script is not None:
        return _scripted_page(state, stat, livingid, key, *script)
    living = state.owned_living(livingid)
    scope = f"{stat}:{livingid}"
    offset = _position(state, scope, key)
    _injected(state, stat, livingid, offset // state.page_size + 1)
    now = state.clock()
    visible = living.visible_count(now)
    if stat == "watch":
        start = min(offset, visible)
        chunk = living.viewers[start : min(start + state.page_size, visible)]
        end = start + len(chunk)
        rows = [(viewer.is_visitor, viewer.render(now)) for viewer in chunk]
        return {
            "ending": int(end >= visible),
            # Set on the last page too: clients must stop on `ending`, not on the key.
            "next_key": state.keys.issue(scope, end),
            "stat_infoes": {
                "students": [row for is_visitor, row in rows if not is_visitor],
                "visitors": [row for is_visitor, row in rows if is_visitor],
            },
        }
    pending = unwatched(state, living, now)
    start = min(offset, len(pending))
    chunk = pending[start : start + state.page_size]
    end = start + len(chunk)
    return {
        "ending": int(end >= len(pending)),
        "next_key": state.keys.issue(scope, end),
        "stat_info": {"students": chunk},
    }


def unwatched(state, living: Living, now: int) -> list[dict]:
    """Students of the living's classes who have not watched (live or replay) and whom the
    school can reach: doc 93742 lists only students with a parent following 学校通知."""
    count = living.visible_count(now)
    created = living.created and not living.partyids
    depends_on = (living.version, count, living.partyids, created and state.unwatch_for_created)
    cached = state.unwatch_cache.get(living.livingid)
    if cached is not None and cached[0] == depends_on:
        return cached[1]
    watched = {v.student_userid.lower() for v in living.viewers[:count] if not v.is_visitor}
    roster = state.roster(living)
    if created:
        # No class range: WeCom's answer is undocumented, the sandbox gives either (state.py).
        listed = state.unwatch_for_created == "list"
        roster = state.school.roster(state.created_classes(living)) if listed else []
    rows = []
    for student in roster:
        parent = student.subscribed_parent
        if parent is None or student.userid.lower() in watched:
            continue
        rows.append(
            {
                "student_userid": student.userid,
                "parent_userid": parent.userid,
                "partyids": list(student.departments),
            }
        )
    state.unwatch_cache[living.livingid] = (depends_on, rows)
    return rows


def _scripted_page(state, stat, livingid, key, pages, generation) -> dict:
    scope = f"script-{stat}:{livingid}:{generation}"
    index = _position(state, scope, key)
    _injected(state, stat, livingid, index + 1)
    if index >= len(pages):
        empty = (
            {"stat_infoes": {"students": [], "visitors": []}}
            if stat == "watch"
            else {"stat_info": {"students": []}}
        )
        return {"ending": 1, "next_key": state.keys.issue(scope, index), **empty}
    page = pages[index]
    if page.get("errcode", 0) != 0:
        return dict(page)
    body = {
        "ending": int(index + 1 >= len(pages)),
        "next_key": state.keys.issue(scope, index + 1),
    }
    body.update(page)
    return body


def get_living_info(state, request) -> dict:
    # WeCom doc 93740: school/living/get_living_info
    livingid = _string(request.query, "livingid", required=True)
    living = state.owned_living(livingid)
    now = state.clock()
    visible = living.viewers[: living.visible_count(now)]
    is_live = living.living_start <= now < living.living_end
    return {
        "living_info": {
            "theme": living.theme,
            "living_start": living.living_start,
            "living_duration": living.living_duration,
            "anchor_userid": living.anchor_userid,
            "living_range": {
                # Classes win over group names when the range has class groups (doc 93740).
                "partyids": list(living.partyids),
                "group_names": [] if living.partyids else list(living.group_names),
            },
            "viewer_num": len(visible),
            "comment_num": sum(v.comments for v in visible),
            "open_replay": living.open_replay,
            # Only an activity living that has not started has a push URL.
            "push_stream_url": (
                f"rtmp://livepush.sandbox.invalid/live/{living.livingid}"
                if living.activity and now < living.living_start
                else ""
            ),
            "online_count": sum(1 for v in visible if v.in_room(now)) if is_live else 0,
            "subscribe_count": living.subscribe_count,
        }
    }


def get_user_all_livingid(state, request) -> dict:
    # WeCom doc 93739: living/get_user_all_livingid (note: /cgi-bin/living/, not /school/)
    body = request.json()
    userid = body.get("userid")
    if userid is None or userid == "":
        raise ApiError(41009, "missing userid")
    if not isinstance(userid, str):
        raise ApiError(40058, "Warning: wrong json format. userid must be a string")
    teacher = state.school.teachers.get(userid.lower())
    if teacher is None:
        raise ApiError(60111, f"userid not found: {userid}")
    limit = body.get("limit")
    if limit is None or limit == 0:
        limit = MAX_LIVINGID_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ApiError(40058, "Warning: wrong json format. limit must be a positive integer")
    limit = min(limit, MAX_LIVINGID_LIMIT)
    scope = f"livings:{teacher.userid}"
    cursor = _string(body, "cursor")
    position = 0
    if cursor is not None:
        position = state.keys.parse(scope, cursor)
        if position is None:
            raise ApiError(40058, "invalid cursor")
    # Only livings this app created (doc 93739); WeCom does not document the order.
    ids = [
        living.livingid
        for living in sorted(state.school.livings.values(), key=lambda lv: lv.living_start)
        if living.anchor_userid == teacher.userid and not living.foreign
    ]
    page = ids[position : position + limit]
    end = position + len(page)
    return {
        "next_cursor": state.keys.issue(scope, end) if end < len(ids) else "",
        "livingid_list": page,
    }
