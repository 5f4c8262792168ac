/* Starting a lesson from the phone with WeCom's JS-SDK (api.md §14.2, §15).

   The page loads the SDK first (the vendored official file, or the sandbox's stand-in ww: the same
   code here either way), then this file. #wecom-start says what to start:
   - data-mode="living": 开始直播 for a reserved lesson, ww.startLiving({livingId});
   - data-mode="class": 现在开课, ww.startLiving({liveType, theme, departmentIds: [classId]}).
   Either way the livingId WeCom answers is POSTed to data-started-url. The site asks WeCom before
   the lesson counts: the answer is the lesson (the page then shows it), "waiting" (WeCom could not
   be asked yet: the words say so, the site asks again, nothing is live meanwhile) or a refusal. Outside WeCom the note that starting needs the WeCom app stays and the buttons stay
   hidden. Words come from data-text-* attributes that the template translated. The site is asked
   through poll.js (window.schoolPoll), loaded first. */
(function () {
  "use strict";

  var fill = window.schoolPoll.fill;

  function pageUrl() {
    return window.location.href.split("#")[0];
  }

  // ww's errMsg ("startLiving:fail no permission") in words a teacher can act on.
  function explain(words, error) {
    var message = (error && (error.errMsg || error.message)) || String(error || "");
    var known = [
      [/no permission|permission denied|not allow to cross app/i, words.textNoPermission],
      [/not in allow list/i, words.textNotAllowed],
      [/invalid department/i, words.textBadClass],
      [/unsupported livetype/i, words.textBadType],
      [/freq out of limit/i, words.textLimit],
      [/invalid living/i, words.textBadLiving],
      [/:cancel\b|cancel$/i, words.textCancelled]
    ];
    for (var i = 0; i < known.length; i++) {
      if (known[i][0].test(message)) { return known[i][1]; }
    }
    return fill(words.textFailed, { error: message || "?" });
  }

  function setup(root) {
    var words = root.dataset;
    var status = document.getElementById("wecom-start-status");
    var outside = document.getElementById("wecom-start-outside");
    var button = document.getElementById(
      words.mode === "class" ? "start-class-button" : "start-living-button"
    );
    var controls = document.getElementById("wecom-start-controls") || button;
    if (!button || !status) { return; }

    function say(text, state) {
      status.textContent = text || "";
      status.setAttribute("data-state", state || "");
    }

    var ww = window.ww;
    if (!ww || !ww.env || !ww.env.isWeCom || typeof ww.startLiving !== "function") {
      root.setAttribute("data-wecom", "outside");
      return;  // the note stays; the button stays hidden
    }
    root.setAttribute("data-wecom", "inside");
    outside.hidden = true;
    controls.hidden = false;
    button.hidden = false;
    button.disabled = true;
    say(words.textRegistering, "registering");

    // One signature request answers both of ww.register's questions for this URL.
    var signatures = {};
    function signature(url) {
      url = (url || pageUrl()).split("#")[0];
      if (!signatures[url]) {
        signatures[url] = window.schoolPoll.request(
          words.signatureUrl + "?url=" + encodeURIComponent(url)
        ).then(function (answer) {
          if (!answer.ok) { throw new Error(answer.body.error || String(answer.status)); }
          return answer.body;
        });
        signatures[url].catch(function () { delete signatures[url]; });
      }
      return signatures[url];
    }

    signature(pageUrl())
      .then(function (first) {
        ww.register({
          corpId: first.corpId,
          agentId: first.agentId,
          jsApiList: ["startLiving"],
          getConfigSignature: function (url) {
            return signature(url).then(function (body) { return body.config; });
          },
          getAgentConfigSignature: function (url) {
            return signature(url).then(function (body) { return body.agentConfig; });
          },
          onAgentConfigFail: function () { say(words.textRegisterFailed, "failed"); }
        });
        button.disabled = false;
        say("", "ready");
      })
      .catch(function (error) {
        say(fill(words.textSetup, { error: error.message || "" }), "failed");
      });

    function record(livingId, extra) {
      var body = new URLSearchParams(extra || {});
      body.set("livingid", livingId);
      return window.schoolPoll.request(words.startedUrl, {
        method: "POST",
        headers: { "X-CSRFToken": window.schoolPoll.csrfToken() },
        body: body
      }).then(function (answer) {
        if (!answer.ok) {
          var failure = new Error(answer.body.error || String(answer.status));
          failure.state = answer.body.state || "";
          throw failure;
        }
        return answer.body;
      });
    }

    button.addEventListener("click", function () {
      var params, extra = {};
      if (words.mode === "class") {
        var theme = document.getElementById("start-theme").value.trim();
        if (!theme) {
          say(words.textThemeMissing, "failed");
          return;
        }
        params = {
          liveType: parseInt(document.getElementById("start-type").value, 10),
          theme: theme,
          departmentIds: [parseInt(words.classId, 10)]
        };
        extra.theme = theme;
      } else {
        params = { livingId: words.livingid };
      }
      button.disabled = true;
      say(words.textStarting, "starting");
      Promise.resolve()
        .then(function () { return ww.startLiving(params); })
        .then(
          function (result) {
            var livingId = (result && result.livingId) || params.livingId;
            say(words.textRecording, "recording");
            return record(livingId, extra).then(
              function (answer) {
                if (answer.state === "waiting") {
                  // Not a lesson yet: WeCom has not confirmed it. The button stays off, so the
                  // teacher does not start a second lesson in WeCom.
                  say(answer.message || words.textWaiting, "waiting");
                  return;
                }
                say(words.textRecording, "started");
                if (answer.url && answer.url !== window.location.pathname) {
                  window.location.assign(answer.url);
                } else {
                  window.location.reload();
                }
              },
              function (error) {
                var text = error.state === "refused" ? words.textRefused : words.textNotRecorded;
                say(fill(text, { error: error.message || "" }), "failed");
                button.disabled = false;
              }
            );
          },
          function (error) {
            say(explain(words, error), "failed");
            button.disabled = false;
          }
        );
    });
  }

  function init() {
    var root = document.getElementById("wecom-start");
    if (root) { setup(root); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
