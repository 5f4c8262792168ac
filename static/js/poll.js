/* The pages' one way to ask the site for JSON and fill words in, used by refresh.js, rollcall.js,
   living-state.js and wecom-start.js (each page loads this file first, deferred, no build step).
   window.schoolPoll:
   - fill(template, values): "{name}" in a translated template replaced by values.name;
   - csrfToken(scope): the form's CSRF token in scope (default the page), else the csrftoken cookie;
   - request(url, init): fetch with the session and Accept: JSON, resolving to {ok, status, body};
   - getJSON(url): the answer's JSON, rejected when the answer is not 2xx;
   - repeat(options): ask options.url again and again (see below). */
(function () {
  "use strict";

  function fill(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole;
    });
  }

  function csrfToken(scope) {
    var field = (scope || document).querySelector("input[name=csrfmiddlewaretoken]");
    if (field) { return field.value; }
    var match = document.cookie.match(/(?:^|; )csrftoken=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function request(url, init) {
    init = init || {};
    var headers = { Accept: "application/json" };
    Object.keys(init.headers || {}).forEach(function (name) { headers[name] = init.headers[name]; });
    var options = { method: init.method || "GET", credentials: "same-origin", headers: headers };
    if (init.body !== undefined) { options.body = init.body; }
    return fetch(url, options).then(function (response) {
      return response.json().then(function (body) {
        return { ok: response.ok, status: response.status, body: body };
      });
    });
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      });
  }

  /* Ask options.url every options.interval ms, the first time one interval from now.
     - onAnswer(answer): return false to stop asking;
     - onError(error): after a failed answer (or a throwing onAnswer); return false to stop,
       else the next ask waits twice as long as the last, up to options.maxDelay (no back-off
       without it); a good answer brings the interval back;
     - pauseHidden: while the page is hidden, skip the ask (and wait again);
     - deadline (ms since the epoch) with onGiveUp(): past it, no more asking. */
  function repeat(options) {
    var delay = options.interval;

    function later() { window.setTimeout(ask, delay); }

    function ask() {
      if (options.deadline && Date.now() > options.deadline) {
        if (options.onGiveUp) { options.onGiveUp(); }
        return;
      }
      if (options.pauseHidden && document.hidden) { later(); return; }
      getJSON(options.url)
        .then(function (answer) {
          delay = options.interval;
          if (options.onAnswer(answer) !== false) { later(); }
        })
        .catch(function (error) {
          if (options.onError && options.onError(error) === false) { return; }
          if (options.maxDelay) { delay = Math.min(delay * 2, options.maxDelay); }
          later();
        });
    }

    later();
  }

  window.schoolPoll = {
    fill: fill,
    csrfToken: csrfToken,
    request: request,
    getJSON: getJSON,
    repeat: repeat
  };
}());
