/* The living page keeps itself current without a reload by hand: while the lesson is upcoming,
   live or not synced yet, it asks data-state-url every few seconds for {state, display, status}
   and reloads the page when any of them changed (the lesson went live, its first numbers came in,
   it ended or was cancelled). Paused while the page is hidden. The element is #wecom-status, or
   on a page without it (a class page) the one marked data-living-state (the roll call). Answers
   other scripts fetched anyway (rollcall.js's) arrive as "living:state" events and are judged
   the same way: this file is the one place that reloads on a change. Asking again, with
   back-off after a failure, through poll.js (window.schoolPoll), loaded first. */
(function () {
  "use strict";

  var POLL_MS = 5000;
  var MAX_BACKOFF_MS = 60000;

  function watched(current) {
    return current.state === "upcoming" || current.state === "live" || current.display === "unsynced";
  }

  function setup(element) {
    var url = element.dataset.stateUrl;
    var current = {
      state: element.dataset.state || "",
      display: element.dataset.display || "",
      status: element.dataset.status || ""
    };
    if (!url || current.state === "cancelled" || !watched(current)) { return; }

    function changed(answer) {
      var status = answer.status === null || answer.status === undefined ? "" : String(answer.status);
      return answer.state !== current.state || answer.display !== current.display ||
        status !== current.status;
    }

    document.addEventListener("living:state", function (event) {
      if (event.detail && changed(event.detail)) {
        element.setAttribute("data-changed", "1");
        window.location.reload();
      }
    });

    window.schoolPoll.repeat({
      url: url,
      interval: POLL_MS,
      maxDelay: MAX_BACKOFF_MS,
      pauseHidden: true,
      onAnswer: function (answer) {
        if (!changed(answer)) { return true; }
        element.setAttribute("data-changed", "1");
        window.location.reload();
        return false;
      }
    });
  }

  function init() {
    var element = document.getElementById("wecom-status") ||
      document.querySelector("[data-living-state]");
    if (element) { setup(element); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
