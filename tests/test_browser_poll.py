"""static/js/poll.js in a real Chromium (issue 21): ``schoolPoll.repeat`` asks again after each
answer, doubles its wait after each failure up to ``maxDelay``, comes back to the interval after
a good answer, stops when told, and gives up at its deadline; ``request`` sends the session's
JSON request. The page and the answers are served by the test itself (Playwright routes)."""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

POLL_JS = Path(__file__).resolve().parent.parent / "static" / "js" / "poll.js"
PAGE = "<!doctype html><html><head><script src='/poll-test/poll.js'></script></head></html>"
# The page's timers are recorded and run at once: the test sees every wait the loop asked for.
RECORD_TIMERS = """() => {
  window.waits = [];
  var run = window.setTimeout.bind(window);
  window.setTimeout = function (callback, delay) { window.waits.push(delay); return run(callback, 0); };
}"""


def open_poll_page(new_page, answers):
    """A page with poll.js whose /poll-test/answer gives ``answers`` in turn (a status code, or
    a dict sent as JSON with 200); ``asked`` lists each request's method and Accept header."""
    page = new_page()
    asked = []

    def answer(route):
        asked.append((route.request.method, route.request.headers.get("accept")))
        given = answers[min(len(asked), len(answers)) - 1]
        if isinstance(given, int):
            route.fulfill(status=given, body="no")
        else:
            route.fulfill(status=200, content_type="application/json", body=json.dumps(given))

    page.route(
        "**/poll-test/page", lambda route: route.fulfill(body=PAGE, content_type="text/html")
    )
    page.route(
        "**/poll-test/poll.js",
        lambda route: route.fulfill(body=POLL_JS.read_text(), content_type="text/javascript"),
    )
    page.route("**/poll-test/answer", answer)
    page.goto("/poll-test/page")
    page.evaluate(RECORD_TIMERS)
    return page, asked


def test_repeat_backs_off_after_failures_and_comes_back_after_an_answer(new_page):
    page, asked = open_poll_page(new_page, [500, 500, 500, {"n": 1}, 503, {"n": 2}])
    page.evaluate(
        """() => {
          window.seen = []; window.failures = 0;
          window.schoolPoll.repeat({
            url: "/poll-test/answer", interval: 100, maxDelay: 350, pauseHidden: true,
            onAnswer: function (answer) { window.seen.push(answer.n); return answer.n < 2; },
            onError: function () { window.failures += 1; }
          });
        }"""
    )
    page.wait_for_function("window.seen.length === 2")
    page.wait_for_timeout(300)  # nothing more is asked once onAnswer said stop
    assert page.evaluate("window.seen") == [1, 2]
    assert page.evaluate("window.failures") == 4
    assert page.evaluate("window.waits") == [100, 200, 350, 350, 100, 200]
    assert asked == [("GET", "application/json")] * 6


def test_repeat_stops_when_on_error_says_so_and_gives_up_at_its_deadline(new_page):
    page, asked = open_poll_page(new_page, [{"n": 1}, 500])
    page.evaluate(
        """() => {
          window.seen = []; window.stopped = "";
          window.schoolPoll.repeat({
            url: "/poll-test/answer", interval: 50,
            onAnswer: function (answer) { window.seen.push(answer.n); },
            onError: function () { window.stopped = "error"; return false; }
          });
          window.schoolPoll.repeat({
            url: "/poll-test/answer", interval: 50, deadline: Date.now() - 1,
            onGiveUp: function () { window.gaveUp = true; },
            onAnswer: function () { window.seen.push("late"); }
          });
        }"""
    )
    page.wait_for_function("window.stopped === 'error' && window.gaveUp === true")
    page.wait_for_timeout(200)
    assert page.evaluate("window.seen") == [1]
    assert len(asked) == 2


def test_request_posts_with_the_csrf_token_and_reads_json_whatever_the_status(new_page):
    page, asked = open_poll_page(new_page, [{"error": "refused"}])
    page.route(
        "**/poll-test/post",
        lambda route: route.fulfill(
            status=409,
            content_type="application/json",
            body=json.dumps({"error": "busy", "token": route.request.headers.get("x-csrftoken")}),
        ),
    )
    result = page.evaluate(
        """() => {
          document.cookie = "csrftoken=cookie-token";
          var words = window.schoolPoll.fill("{who} · {n} · {missing}", { who: "张三", n: 3 });
          return window.schoolPoll.request("/poll-test/post", {
            method: "POST", headers: { "X-CSRFToken": window.schoolPoll.csrfToken() }
          }).then(function (answer) { return [words, answer.ok, answer.status, answer.body]; });
        }"""
    )
    assert result == [
        "张三 · 3 · {missing}",
        False,
        409,
        {"error": "busy", "token": "cookie-token"},
    ]
