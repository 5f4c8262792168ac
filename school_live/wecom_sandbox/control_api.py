"""The sandbox-only control API under /sandbox/: WeCom has no such paths.

Other processes (the demo, browser tests) steer the sandbox through it exactly as tests steer
SandboxState from Python. It needs no authentication because the server binds loopback only.

A sandbox serving several corps (district.py) is steered one corp at a time: every path below
takes ``?corp=<corp id>`` (exact, case-sensitive) and acts on that corp alone; without it, on the
first (default) corp. An unknown corp is a 404.

    GET  /sandbox/corps                     every corp: corp id, agent id, school (never secrets)
    GET  /sandbox/summary                   corp id, agent id, teachers and their classes, livings
    GET  /sandbox/faults   POST /sandbox/faults {"busy":0.2,"seed":7,...}   (replaces all faults)
    POST /sandbox/faults/inject {"path":"/cgi-bin/...","errcode":48002,"times":1}  (times null:
         every call) one path answers that errcode after the token check
    GET  /sandbox/notices   POST /sandbox/notices/reset   POST /sandbox/notices/config
         {"parent_app": false, "allow_scope": {...}}   学校通知 sends (see notice_api.py)
    GET  /sandbox/setup     POST /sandbox/setup {"untrusted_ip": "203.0.113.9", "living_list":
         false, "contacts_list": false, "parent_app": false, "wrong_agent": true, "secret_reset":
         true, "customized_publish_status": 1, "redirect_domain": "..."}   the app set up wrongly
         in WeCom's console, the switches given (see setup_api.py); /sandbox/reset clears them
    GET  /sandbox/unwatch   POST /sandbox/unwatch {"unwatch_for_created": "empty"|"list"}
         what get_unwatch_stat lists for a living created through living/create (no class
         range; undocumented, api.md §12): nobody ("empty", the default) or the anchor's
         classes' subscribed families not in the room ("list")
    POST /sandbox/advance {"seconds": N}    move the sandbox clock forward
    POST /sandbox/reset                     faults, scripts, tokens, messages, clock, livings
    POST /sandbox/tokens/revoke             every token now answers 40014
    POST /sandbox/tokens/expire             every token now answers 42001
    GET  /sandbox/messages                  what apps sent through message/send
    GET  /sandbox/calls                     calls per WeCom path
    POST /sandbox/livings/demo {"start_in":120,"duration":600,"spread":0.5}   a living that goes
         live soon; its class arrives over the first `spread` of it
    GET  /sandbox/livings/<id>              a living with its status
    POST /sandbox/livings/<id>/start        starts now   ({"duration": N} optional)
    POST /sandbox/livings/<id>/end          ends now
    POST /sandbox/livings/<id>/watch {"student_userid":..., "watch_time":...}  update or add
    GET  /sandbox/livings/<id>/watchers     each student row's arrival (first entry, Unix s by
         the sandbox clock), come or not yet: {"now", "living_start", "living_end", "watchers"}
    POST /sandbox/livings/<id>/arrive {"student_userid":..., "parent_userid": null}  the student
         enters now (on that account; null: their own) and stays to the end
    POST /sandbox/livings/<id>/inject {"page":2,"kind":"errcode","errcode":-1,"stat":"watch"}
    POST /sandbox/livings/<id>/script {"stat":"watch","pages":[{...}, ...]}
    POST /sandbox/jssdk/startLiving {"userid":..., "params":{"livingId":...} or
         {"liveType":2,"theme":...,"departmentIds":[...]}}  what ww.startLiving does on the phone
    POST /sandbox/jssdk/verify {"kind":"corp"|"agent","url","timestamp","nonceStr","signature"}
         → {"ok": bool}: the stand-in ww.register's check of a page's signature
    GET  /sandbox/ww.js                     the stand-in ww (app.py serves it, with CORS)
    GET  /sandbox/callbacks   POST /sandbox/callbacks {"url":..., "token":..., "aes_key":...,
         "drop":0.0, "repeat":0, "delay":0.0, "seed":7}   status callbacks to the app's URL
         (url "" switches them off); GET shows the config (no token or key) and the log of what
         was sent, each with its HTTP status
"""

import dataclasses
import hmac
import json

from school_live.wecom.jsapi import jsapi_signature

from . import notice_api, setup_api
from .model import ADMIN_HEAD_TEACHER, DEPT_CLASS, ROW_FIELDS, Living
from .replies import ApiError, RawReply
from .watch import ARRIVAL_SPREAD


def _reply(status: str, payload: dict) -> RawReply:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return RawReply(status, "application/json; charset=utf-8", body)


def _bad(message: str, status: str = "400 Bad Request") -> RawReply:
    return _reply(status, {"errcode": 400, "errmsg": message})


def living_status(living: Living, now: int) -> str:
    return {0: "upcoming", 1: "live", 2: "ended", 4: "cancelled"}[living.status(now)]


def living_json(living: Living, now: int) -> dict:
    return {
        "livingid": living.livingid,
        "theme": living.theme,
        "anchor_userid": living.anchor_userid,
        "living_start": living.living_start,
        "living_duration": living.living_duration,
        "partyids": list(living.partyids),
        "status": living_status(living, now),
        "foreign": living.foreign,
        "wecom_status": living.status(now),
        "type": living.living_type,
        "remind_time": living.remind_time,
        "rows": len(living.viewers),
    }


def summary(state) -> dict:
    with state.lock:
        school, now = state.school, state.clock()
        livings = sorted(school.livings.values(), key=lambda lv: lv.living_start)
        teachers = []
        for teacher in school.teachers.values():
            mine = [lv for lv in livings if lv.anchor_userid == teacher.userid and not lv.foreign]
            classes = [
                {
                    "id": dept.id,
                    "name": dept.name,
                    "role": "head" if admin.type == ADMIN_HEAD_TEACHER else "subject",
                    "subject": admin.subject,
                }
                for dept, admin in school.teacher_classes(teacher.userid)
            ]
            teachers.append(
                {
                    "userid": teacher.userid,
                    "name": teacher.name,
                    "classes": classes[:10],
                    "class_count": len(classes),
                    "living_count": len(mine),
                    "recent_livingids": [lv.livingid for lv in mine if lv.living_end <= now][-3:],
                }
            )

        def pick(test, limit=5):
            return [living_json(lv, now) for lv in livings if test(lv)][:limit]

        students = school.students.values()
        return {
            "sandbox": True,
            "now": now,
            "corp_id": state.corp_id,
            "agent_id": state.agent_id,
            "school": school.name,
            "page_size": state.page_size,
            "token_ttl": state.token_ttl,
            "counts": {
                "departments": len(school.departments),
                "classes": sum(1 for d in school.departments.values() if d.type == DEPT_CLASS),
                "teachers": len(school.teachers),
                "students": len(school.students),
                "parents": len(school.parents),
                "unreachable_students": sum(1 for s in students if s.subscribed_parent is None),
                "livings": len(school.livings),
                "watch_rows": sum(len(lv.viewers) for lv in school.livings.values()),
            },
            "teachers": teachers,
            "livings": {
                "live": pick(lambda lv: living_status(lv, now) == "live" and not lv.foreign),
                "upcoming": pick(
                    lambda lv: living_status(lv, now) == "upcoming" and not lv.foreign
                ),
                "recent": [
                    living_json(lv, now)
                    for lv in livings
                    if living_status(lv, now) == "ended" and not lv.foreign
                ][-5:],
                "group_range": pick(lambda lv: not lv.partyids and not lv.foreign),
                "foreign": pick(lambda lv: lv.foreign),
                "big": school.big_livingid,
            },
            "faults": dataclasses.asdict(state.faults),
        }


def _body(request) -> dict:
    if not request.body:
        return {}
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _bad("body must be JSON") from None
    if not isinstance(data, dict):
        raise _bad("body must be a JSON object")
    return data


def _living_action(state, request, livingid: str, action: str) -> dict:
    if livingid not in state.school.livings and action != "script":
        raise _bad(f"no living {livingid}", "404 Not Found")
    body = _body(request)
    now = state.clock()
    try:
        if action == "" and request.method == "GET":
            return {"living": living_json(state.living(livingid), now)}
        if action == "watchers" and request.method == "GET":
            living = state.living(livingid)
            return {
                "now": now,
                "living_start": living.living_start,
                "living_end": living.living_end,
                "watchers": state.arrivals(livingid),
            }
        if request.method != "POST":
            raise _bad("use POST", "405 Method Not Allowed")
        if action == "start":
            living = state.start_living_now(livingid, duration=body.get("duration"))
        elif action == "end":
            living = state.end_living_now(livingid)
        elif action == "watch":
            student = body.pop("student_userid", "")
            if not student:
                raise _bad("student_userid is required")
            fields = {k: v for k, v in body.items() if k in ROW_FIELDS}
            try:
                state.update_watch(livingid, student, **fields)
            except LookupError:
                state.add_watcher(livingid, student, **fields)
            living = state.living(livingid)
        elif action == "arrive":
            student = body.get("student_userid", "")
            if not student or not isinstance(student, str):
                raise _bad("student_userid is required")
            parent = body.get("parent_userid") or None
            arrival = state.watcher_arrive(livingid, student, parent_userid=parent)
            return {"arrival": arrival, "living": living_json(state.living(livingid), now)}
        elif action == "inject":
            state.inject(livingid, **body)
            return {"injected": True}
        elif action == "script":
            stat = body.get("stat", "watch")
            pages = body.get("pages")
            if stat not in ("watch", "unwatch") or not isinstance(pages, list):
                raise _bad('give {"stat": "watch"|"unwatch", "pages": [...]}')
            state.script_pages(stat, livingid, pages)
            return {"scripted": len(pages)}
        else:
            raise _bad(f"unknown action {action}", "404 Not Found")
    except (TypeError, ValueError) as error:
        raise _bad(str(error)) from None
    return {"living": living_json(living, state.clock())}


def _callbacks(state, request) -> dict:
    if request.method == "POST":
        body = _body(request)
        allowed = {"url", "token", "aes_key", "drop", "repeat", "delay", "seed"}
        unknown = set(body) - allowed
        if unknown:
            raise _bad(f"unknown fields {sorted(unknown)}; give {sorted(allowed)}")
        try:
            state.set_callbacks(**{"url": "", **body})
        except (TypeError, ValueError) as error:
            raise _bad(str(error)) from None
    elif request.method != "GET":
        raise _bad("use GET or POST", "405 Method Not Allowed")
    return state.callbacks.snapshot()


_GET_ONLY = {"/sandbox/summary", "/sandbox/messages", "/sandbox/calls"}
_POST_ONLY = {
    "/sandbox/advance",
    "/sandbox/reset",
    "/sandbox/tokens/revoke",
    "/sandbox/tokens/expire",
    "/sandbox/livings/demo",
    "/sandbox/jssdk/startLiving",
    "/sandbox/jssdk/verify",
}


def corps(district) -> dict:
    return {
        "corps": [
            {
                "corp_id": state.corp_id,
                "agent_id": state.agent_id,
                "school": state.school.name,
                "default": state is district.default,
            }
            for state in district
        ]
    }


def handle_corp(district, state, request) -> dict:
    """A control request for the corp app.py found by ?corp= (None: no corp has that id)."""
    if request.path.rstrip("/") == "/sandbox/corps":
        if request.method != "GET":
            raise _bad("wrong method", "405 Method Not Allowed")
        return corps(district)
    if state is None:
        raise _bad(
            f"no corp {request.query.get('corp', '')!r} in this sandbox; "
            "GET /sandbox/corps lists them",
            "404 Not Found",
        )
    return handle(state, request)


def handle(state, request) -> dict:
    path, method = request.path.rstrip("/"), request.method
    with state.lock:
        if (path in _POST_ONLY and method != "POST") or (path in _GET_ONLY and method != "GET"):
            raise _bad("wrong method", "405 Method Not Allowed")
        if path == "/sandbox/summary":
            return summary(state)
        if path == "/sandbox/faults":
            if method == "POST":
                try:
                    state.set_faults(**_body(request))
                except TypeError as error:
                    raise _bad(str(error)) from None
            return {"faults": dataclasses.asdict(state.faults)}
        if path == "/sandbox/callbacks":
            return _callbacks(state, request)
        if path == "/sandbox/setup":
            try:
                return setup_api.control(state, request, _body)
            except (TypeError, ValueError) as error:
                raise _bad(str(error)) from None
        if path == "/sandbox/unwatch":
            if method == "POST":
                body = _body(request)
                if set(body) != {"unwatch_for_created"}:
                    raise _bad('give {"unwatch_for_created": "empty"|"list"}')
                try:
                    state.set_unwatch_for_created(body["unwatch_for_created"])
                except ValueError as error:
                    raise _bad(str(error)) from None
            return {"unwatch_for_created": state.unwatch_for_created}
        if path == "/sandbox/faults/inject" and method == "POST":
            body = _body(request)
            try:
                state.inject_errcode(
                    str(body.get("path", "")), int(body["errcode"]), times=body.get("times", 1)
                )
            except (KeyError, TypeError, ValueError) as error:
                raise _bad(f'give {{"path", "errcode", "times"}}: {error}') from None
            return {"injected": True}
        if path.startswith("/sandbox/notices"):
            answer = notice_api.control(state, request, path, _body)
            if answer is None:
                raise _bad("wrong method or path", "405 Method Not Allowed")
            return answer
        if path == "/sandbox/advance":
            seconds = _body(request).get("seconds")
            if not isinstance(seconds, int) or isinstance(seconds, bool):
                raise _bad('give {"seconds": N}')
            return {"now": state.advance(seconds)}
        if path == "/sandbox/reset":
            state.reset()
            return {"now": state.clock()}
        if path == "/sandbox/tokens/revoke":
            state.revoke_tokens()
            return {}
        if path == "/sandbox/tokens/expire":
            state.expire_tokens()
            return {}
        if path == "/sandbox/messages":
            return {"messages": list(state.sent_messages)}
        if path == "/sandbox/calls":
            counts: dict[str, int] = {}
            for call in state.calls:
                counts[call.path] = counts.get(call.path, 0) + 1
            return {"calls": counts, "total": len(state.calls)}
        if path == "/sandbox/livings/demo":
            body = _body(request)
            try:
                living = state.schedule_demo_living(
                    start_in=int(body.get("start_in", 120)),
                    duration=int(body.get("duration", 600)),
                    spread=float(body.get("spread", ARRIVAL_SPREAD)),
                )
            except (TypeError, ValueError) as error:
                raise _bad(str(error)) from None
            return {"living": living_json(living, state.clock())}
        if path == "/sandbox/jssdk/startLiving":
            # What the stand-in ww.startLiving asks for: {"userid": ..., "params": {...}}.
            body = _body(request)
            try:
                living = state.start_by_jssdk(
                    userid=str(body.get("userid", "")), params=body.get("params") or {}
                )
            except ApiError as error:
                return {"errMsg": error.reason}
            return {"errMsg": "startLiving:ok", "livingId": living.livingid}
        if path == "/sandbox/jssdk/verify":
            # ww.register's signature, checked against the ticket the sandbox issued last.
            body = _body(request)
            ticket = state.tickets.get(str(body.get("kind", "")), "")
            expected = jsapi_signature(
                ticket=ticket,
                noncestr=str(body.get("nonceStr", "")),
                timestamp=str(body.get("timestamp", "")),
                url=str(body.get("url", "")),
            )
            given = str(body.get("signature", ""))
            return {"ok": bool(ticket) and hmac.compare_digest(expected, given)}
        if path.startswith("/sandbox/livings/"):
            rest = path.removeprefix("/sandbox/livings/")
            livingid, _, action = rest.partition("/")
            return _living_action(state, request, livingid, action)
    raise _bad(f"unknown sandbox path {request.path}", "404 Not Found")
