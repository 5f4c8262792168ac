/* The roll call of a live lesson keeps itself current: every data-refresh-seconds it asks
   data-url for the counts and the selected class's students and updates the page in place —
   counts, the three lists (rows keyed by student, reused, never innerHTML), the minutes since the
   start and the age of the data ("12 秒前更新", ticking every second). The part of the page the
   reader is looking at stays where it is: the section heading nearest the top of the screen is
   held at the same height across the update. Words come from data-* attributes the template
   translated; the header's viewer and comment numbers (#living-numbers) are refreshed too.
   The answer's lesson state goes to living-state.js as a "living:state" event: that
   file alone reloads the page, e.g. into the verdicts once the lesson has ended. Asking again,
   with back-off after a failure, through poll.js (window.schoolPoll), loaded first. */
(function () {
  "use strict";

  var MAX_BACKOFF_MS = 5 * 60 * 1000;
  var fill = window.schoolPoll.fill;

  function setup(root) {
    var url = root.dataset.url;
    var every = Math.max(5, parseInt(root.dataset.refreshSeconds, 10) || 20) * 1000;
    var words = root.dataset;
    var age = root.dataset.syncedAge === "" ? null : parseInt(root.dataset.syncedAge, 10);
    var ageAt = Date.now();
    var template = document.getElementById("rollcall-row");
    var ageElement = document.getElementById("rollcall-age");
    var sinceElement = document.getElementById("rollcall-since");
    var problem = document.getElementById("rollcall-problem");
    if (!url) { return; }

    function showAge() {
      if (!ageElement) { return; }
      if (age === null || isNaN(age)) {
        ageElement.textContent = words.textNever;
        return;
      }
      var seconds = age + Math.floor((Date.now() - ageAt) / 1000);
      ageElement.textContent = seconds < 120 ?
        fill(words.textAgeSeconds, { seconds: seconds }) :
        fill(words.textAgeMinutes, { minutes: Math.floor(seconds / 60) });
    }

    function setText(selector, value) {
      root.querySelectorAll(selector).forEach(function (element) {
        var text = String(value);
        if (element.textContent !== text) { element.textContent = text; }
      });
    }

    function detail(student) {
      var parts = [];
      if (student.first_enter) { parts.push(student.first_enter); }
      var account = { own: words.textOwn, parent: words.textParent, both: words.textBoth }[student.account];
      if (account) { parts.push(account); } else if (student.via) { parts.push(student.via); }
      return parts.join(" · ");
    }

    function row(existing, student) {
      var item = existing;
      if (!item) {
        item = template.content.firstElementChild.cloneNode(true);
        item.setAttribute("data-student", student.userid);
      }
      var link = item.querySelector(".rollcall__name");
      var text = student.name || student.userid;
      // A name two students of the class share comes with its mark (plain text, e.g. "（爸爸 尾号 1234）").
      var mark = student.mark || "";
      if (link.textContent !== text + mark) {
        link.textContent = text;
        if (mark) {
          var small = document.createElement("small");
          small.className = "namesake";
          small.textContent = mark;
          link.appendChild(small);
        }
      }
      if (link.getAttribute("href") !== student.url) { link.setAttribute("href", student.url); }
      var info = item.querySelector(".rollcall__detail");
      var shown = student.group === "joined" ? detail(student) : "";
      if (info.textContent !== shown) { info.textContent = shown; }
      return item;
    }

    function updateLists(students) {
      var lists = {};
      var existing = {};
      root.querySelectorAll("[data-list]").forEach(function (list) {
        lists[list.dataset.list] = list;
        Array.prototype.forEach.call(list.children, function (item) {
          existing[item.dataset.student] = item;
        });
      });
      var wanted = {};
      Object.keys(lists).forEach(function (group) { wanted[group] = []; });
      students.forEach(function (student) {
        if (wanted[student.group]) {
          wanted[student.group].push(row(existing[student.userid], student));
          delete existing[student.userid];
        }
      });
      Object.keys(existing).forEach(function (userid) { existing[userid].remove(); });
      Object.keys(lists).forEach(function (group) {
        var list = lists[group];
        wanted[group].forEach(function (item, index) {
          // Moved only where the order changed: untouched rows keep their place in the DOM.
          if (list.children[index] !== item) { list.insertBefore(item, list.children[index] || null); }
        });
        setText('[data-count="' + group + '"]', wanted[group].length);
      });
    }

    function anchor() {
      var candidates = root.querySelectorAll("[data-rollcall-anchor]");
      var chosen = null;
      for (var i = 0; i < candidates.length; i += 1) {
        var top = candidates[i].getBoundingClientRect().top;
        if (top <= 1 || chosen === null) { chosen = { element: candidates[i], top: top }; }
        if (top > 1) { break; }
      }
      return chosen;
    }

    function update(answer) {
      var held = anchor();
      Object.keys(answer.totals || {}).forEach(function (name) {
        setText('[data-total="' + name + '"]', answer.totals[name]);
      });
      (answer.classes || []).forEach(function (entry) {
        var line = root.querySelector('tr[data-class="' + entry.id + '"]');
        if (!line) { return; }
        Object.keys(entry.counts).forEach(function (name) {
          var cell = line.querySelector('[data-count="' + name + '"]');
          if (cell && cell.textContent !== String(entry.counts[name])) {
            cell.textContent = String(entry.counts[name]);
          }
        });
      });
      if (answer["class"] && template) { updateLists(answer["class"].students || []); }
      // The header's WeCom numbers (outside the roll call), refreshed with it.
      var numbers = document.getElementById("living-numbers");
      if (numbers && answer.viewer_num !== undefined && answer.comment_num !== undefined) {
        var said = fill(numbers.dataset.textNumbers, {
          viewers: answer.viewer_num, comments: answer.comment_num
        });
        if (numbers.textContent !== said) { numbers.textContent = said; }
      }
      if (sinceElement && answer.minutes_since_start !== null && answer.minutes_since_start !== undefined) {
        sinceElement.textContent = fill(words.textSince, { minutes: answer.minutes_since_start });
      }
      age = answer.synced_age === null || answer.synced_age === undefined ? null : answer.synced_age;
      ageAt = Date.now();
      showAge();
      if (held) {
        // Whatever moved above the reader's place is made up for, so their place stays put.
        // Measured after the change, so an adjustment the browser made itself is counted in.
        var shift = held.element.getBoundingClientRect().top - held.top;
        if (Math.abs(shift) >= 1) { window.scrollBy(0, shift); }
      }
      root.setAttribute("data-updated", String(Date.now()));
    }

    showAge();
    window.setInterval(showAge, 1000);
    window.schoolPoll.repeat({
      url: url,
      interval: every,
      maxDelay: MAX_BACKOFF_MS,
      pauseHidden: true,
      onAnswer: function (answer) {
        if (problem) { problem.textContent = ""; }
        update(answer);
        document.dispatchEvent(new CustomEvent("living:state", { detail: answer }));
        return Boolean(answer.live);
      },
      onError: function () {
        if (problem) { problem.textContent = words.textFailed; }
      }
    });
  }

  function init() {
    var root = document.getElementById("rollcall");
    if (root) { setup(root); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
