"""The pages ask the site through one small module, static/js/poll.js (issue 21): the scripts
that fetch JSON, fill words in and ask again with back-off do it through ``window.schoolPoll``,
and every page that loads one of them loads poll.js before it."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
USERS = ["refresh.js", "rollcall.js", "living-state.js", "wecom-start.js"]


@pytest.mark.parametrize("name", USERS)
def test_scripts_ask_through_poll_js(name):
    source = (ROOT / "static" / "js" / name).read_text()
    assert "window.schoolPoll" in source
    # No loop, template filler or CSRF reader of their own.
    assert "fetch(" not in source
    assert "function fill" not in source
    assert "document.cookie" not in source
    assert "setTimeout" not in source


def test_poll_js_is_the_one_place():
    source = (ROOT / "static" / "js" / "poll.js").read_text()
    assert "window.schoolPoll = {" in source
    for name in ["fill", "csrfToken", "request", "getJSON", "repeat"]:
        assert re.search(rf"function {name}\(", source)


@pytest.mark.parametrize(
    "template", ["dashboard/living_detail.html", "dashboard/class_detail.html"]
)
def test_pages_load_poll_js_before_its_users(template):
    text = (ROOT / "templates" / template).read_text()
    # The WeCom start script comes through sdk_scripts.html, after the block's own scripts.
    text = text.replace('{% include "lessons/includes/sdk_scripts.html" %}', "js/wecom-start.js")
    poll = text.index("js/poll.js")
    for name in USERS:
        if f"js/{name}" in text:
            assert poll < text.index(f"js/{name}"), name
