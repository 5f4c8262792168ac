"""No POST makes a server error (issue 19: "0 × 500" over every POST endpoint).

The POST half of tests/test_hostile_input.py's sweep. Every URL of the site (read from the
resolver, so a new one is swept the day it is added) gets POSTs — as a form and as a JSON body —
from an anonymous visitor, the subject teacher, the 班主任 and an admin, with huge, negative,
non-ASCII and markup values in every field a form or view of the product reads (collected from
the product's own form classes and from its source, so a new field is swept too). The admin's
add and change forms get the same. Every answer is a 2xx, 3xx or 4xx.

A hypothesis part draws the route, the visitor's fields and their values; a deterministic part
gives each route every nasty value in every field, so no known hazard rests on a random draw.
"""

import json
import re
from pathlib import Path

import pytest
from django import forms
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

import school_live
from tests.test_hostile_input import (
    HUGE,
    NASTY_NUMBERS,
    NASTY_TEXT,
    PARAM,
    ROUTES,
    SWEEP,
    VALUES,
    answered,
    is_admin,
    quote,
    sample_urls,
)
from tests.test_security import _fast_passwords  # noqa: F401 (an autouse fixture)

SOURCE = Path(school_live.__file__).parent
# Routes whose POST is still known to answer a 500, each with its reason: skipped by the
# hypothesis sweep and a strict xfail below, so that a fix is noticed. Empty: none is known.
KNOWN_500: dict[str, str] = {}


def product_form_fields() -> set[str]:
    """Every field name of every form class of the product (forms, views, admin forms)."""
    names: set[str] = set()
    stack = [forms.BaseForm]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("school_live.") and hasattr(cls, "base_fields"):
            names.update(cls.base_fields)
    return names


def raw_post_keys() -> set[str]:
    """The keys a view reads from request.POST by hand, from the source."""
    pattern = re.compile(r"request\.POST(?:\.get|\.getlist)?[(\[]\s*[\"']([^\"']+)[\"']")
    keys = set()
    for path in SOURCE.rglob("*.py"):
        if "wecom_sandbox" not in path.parts:
            keys.update(pattern.findall(path.read_text(encoding="utf-8")))
    return keys


# What Django's own views read: login, set_language, the admin's actions and its change forms.
DJANGO_KEYS = {"username", "password", "next", "language", "action", "_selected_action", "index"}
ADMIN_KEYS = {"_save", "_continue", "_addanother", "post", "select_across"}
FIELDS = sorted(product_form_fields() | raw_post_keys() | DJANGO_KEYS | ADMIN_KEYS)
# The admin builds its forms from the models: their fields are the admin's form fields.
MODEL_FIELDS = sorted(
    {field.name for model in admin.site._registry for field in model._meta.concrete_fields}
)
# One of each kind: NUL, non-ASCII, markup, path, huge, beyond 64 bits, negative, full-width
# digits, empty, very long.
NASTY = (
    NASTY_TEXT[1],
    NASTY_TEXT[3],
    NASTY_TEXT[4],
    NASTY_TEXT[7],
    HUGE,
    "9223372036854775808",
    "-" + HUGE,
    NASTY_NUMBERS[8],
    "",
    HUGE * 300,
)
SITE_ROUTES = [route for route in ROUTES if not is_admin(route) and not route.regex]
FIELD_VALUES = st.one_of(VALUES, st.lists(VALUES, min_size=2, max_size=3))
# 60 examples per visitor, 240 in all (HOSTILE_INPUT_EXAMPLES scales it as for the GET sweep).
POST_SWEEP = SWEEP.__class__(SWEEP, max_examples=max(1, SWEEP.max_examples // 2))
BODIES = st.dictionaries(st.sampled_from(FIELDS), FIELD_VALUES, max_size=8)


@pytest.fixture
def sweep_school(hostile_school, subject_teacher):
    hostile_school.subject = subject_teacher
    # Fixed before the sweep: its POSTs may add rows, and hypothesis needs the same choices.
    hostile_school.admin_urls = admin_form_urls(hostile_school)
    return hostile_school


def visitors(w) -> dict[str, object]:
    return {
        "anonymous": None,
        "subject teacher": w.subject.user,
        "班主任": w.head.user,
        "admin": w.admin,
    }


def client_for(user) -> Client:
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


def admin_form_urls(w) -> list[str]:
    """The admin's add page of every model, and the change page of its first row."""
    urls = []
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        urls.append(reverse("admin:{}_{}_add".format(*info)))
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        first = model.objects.order_by("pk").values_list("pk", flat=True).first()
        if first is not None:
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[first]))
    return urls


def post_urls(route, w) -> list[str]:
    """Well-formed URLs of the route, and the route with a nasty value in each parameter."""
    nasty = "/" + PARAM.sub(lambda match: quote(HUGE, safe=""), route.route)
    return [*sample_urls(route, w), nasty]


def post(client: Client, url: str, body: dict, *, as_json: bool):
    if as_json:
        return client.post(url, json.dumps(body), content_type="application/json")
    return client.post(url, body)


def test_the_sweep_reads_the_fields_of_every_form():
    """Sanity: the forms of the product were found (a new form's fields join by themselves)."""
    assert {"livingid", "theme", "classes", "nickname", "student", "why", "kind"} <= set(FIELDS)
    assert {"confirm", "livingid", "theme", "why"} <= raw_post_keys()


@pytest.mark.slow
@pytest.mark.parametrize("who", ["anonymous", "subject teacher", "班主任", "admin"])
@POST_SWEEP
@given(data=st.data())
def test_no_post_answers_a_server_error_whatever_its_body(sweep_school, who, data):
    w = sweep_school
    admin_or_site = data.draw(st.sampled_from(("site", "site", "admin")), label="where")
    if admin_or_site == "admin":
        url = data.draw(st.sampled_from(w.admin_urls), label="url")
        name = "admin"
    else:
        route = data.draw(st.sampled_from(SITE_ROUTES), label="route")
        if route.name in KNOWN_500:
            return
        url = data.draw(st.sampled_from(post_urls(route, w)), label="url")
        name = route.name
    body = data.draw(BODIES, label="body")
    as_json = data.draw(st.booleans(), label="json")
    response = post(client_for(visitors(w)[who]), url, body, as_json=as_json)
    assert response.status_code < 500 or (name, response.status_code) in {
        ("wecom_jssdk_signature", 503)
    }, (url, body, response.status_code)


def _route_params() -> list:
    params = []
    for route in SITE_ROUTES:
        marks = []
        if route.name in KNOWN_500:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_500[route.name]))
        params.append(pytest.param(route, id=route.name, marks=marks))
    return params


@pytest.mark.slow
@pytest.mark.parametrize("route", _route_params())
def test_every_field_of_every_post_refuses_nasty_values_with_a_4xx(sweep_school, route):
    """The deterministic half: each nasty value in every field at once (and as a list), as a
    form and as JSON, by each visitor."""
    w = sweep_school
    failures = []
    people = list(visitors(w).items())
    for position, url in enumerate(dict.fromkeys(post_urls(route, w))):
        for index, value in enumerate(NASTY):
            # Two visitors in turn, so that every one of them meets every kind of value.
            for turn in (0, 2):
                who, user = people[(index + position + turn) % len(people)]
                body = dict.fromkeys(FIELDS, value)
                if index % 3 == 0:
                    body = {field: [value, NASTY[(index + 1) % len(NASTY)]] for field in FIELDS}
                as_json = turn == 0 and index % 2 == 1  # each value as a form at least once
                response = post(client_for(user), url, body, as_json=as_json)
                if not answered(route, response):
                    failures.append((who, url, repr(value[:30]), as_json, response.status_code))
    assert failures == []


@pytest.mark.slow
def test_the_admin_forms_refuse_nasty_values_with_a_4xx(sweep_school):
    w = sweep_school
    client = client_for(w.admin)
    failures = []
    for url in admin_form_urls(w):
        for value in NASTY[:6]:
            body = dict.fromkeys(MODEL_FIELDS, value)
            if "changelist" in url:
                body = {"action": value, "_selected_action": [value, HUGE], "index": value}
            response = client.post(url, body)
            if response.status_code >= 500:
                failures.append((url, repr(value), response.status_code))
    assert failures == []
