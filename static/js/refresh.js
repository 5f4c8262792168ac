/* The living page's refresh button: start a sync of this living, show its progress by polling the
   run's status, and reload the page once the run has finished. Words come from data-* attributes
   that the template translated; the CSRF token comes from the form (or the csrftoken cookie). */
(function () {
  "use strict";

  var POLL_MS = 1500;
  var GIVE_UP_MS = 15 * 60 * 1000;

  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole;
    });
  }

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

    function poll(url) {
      if (Date.now() - startedAt > GIVE_UP_MS) {
        fail("");
        return;
      }
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.json();
        })
        .then(function (run) {
          if (!progress(run)) { window.setTimeout(function () { poll(url); }, POLL_MS); }
        })
        .catch(function () { fail(""); });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      button.disabled = true;
      startedAt = Date.now();
      say(words.textStarting, "starting");
      var field = form.querySelector("input[name=csrfmiddlewaretoken]");
      var token = field ? field.value : cookie("csrftoken");
      fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": token, Accept: "application/json" }
      })
        .then(function (response) {
          return response.json().then(function (body) { return { ok: response.ok, body: body }; });
        })
        .then(function (result) {
          var body = result.body || {};
          if (!body.status_url) {
            fail(body.error || "");
            return;
          }
          if (!progress(body)) { window.setTimeout(function () { poll(body.status_url); }, POLL_MS); }
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
