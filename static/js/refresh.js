/* The living page's refresh button: start a sync of this living, show its progress by polling the
   run's status, and reload the page once the run has finished. Words come from data-* attributes
   that the template translated; the CSRF token comes from the form (or the csrftoken cookie).
   Asking and polling through poll.js (window.schoolPoll), loaded first. */
(function () {
  "use strict";

  var POLL_MS = 1500;
  var GIVE_UP_MS = 15 * 60 * 1000;
  var fill = window.schoolPoll.fill;

  function setup(form) {
    var button = document.getElementById("refresh-button");
    var status = document.getElementById("refresh-status");
    if (!button || !status) { return; }
    var words = status.dataset;
    var startedAt = 0;

    function say(text, state) {
      status.textContent = text;
      status.setAttribute("data-state", state || "");
    }

    function fail(message) {
      say(message ? fill(words.textFailed, { error: message }) : words.textError, "failed");
      button.disabled = false;
    }

    function progress(run) {
      var values = { pages: run.pages || 0, rows: run.rows || 0 };
      if (run.status === "succeeded") {
        say(fill(words.textSucceeded, values), "succeeded");
        window.location.reload();
        return true;
      }
      if (run.status === "failed") {
        fail(run.error || "");
        return true;
      }
      var template = run.status === "running" ? words.textRunning : words.textQueued;
      say(fill(template, values), run.status);
      return false;
    }

    function follow(url) {
      window.schoolPoll.repeat({
        url: url,
        interval: POLL_MS,
        deadline: startedAt + GIVE_UP_MS,
        onGiveUp: function () { fail(""); },
        onAnswer: function (run) { return !progress(run); },
        onError: function () { fail(""); return false; }
      });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      button.disabled = true;
      startedAt = Date.now();
      say(words.textStarting, "starting");
      window.schoolPoll.request(form.action, {
        method: "POST",
        headers: { "X-CSRFToken": window.schoolPoll.csrfToken(form) }
      })
        .then(function (result) {
          var body = result.body || {};
          if (!body.status_url) {
            fail(body.error || "");
            return;
          }
          if (!progress(body)) { follow(body.status_url); }
        })
        .catch(function () { fail(""); });
    });
  }

  function init() {
    var form = document.getElementById("refresh-form");
    if (form) { setup(form); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
