/* The sandbox's stand-in for WeCom's JS-SDK `ww` (served at GET /sandbox/ww.js).

   A page loads it instead of the official @wecom/jssdk file where WECOM_JSSDK_URL points here
   (demo, tests) and runs the same code: ww.register calls the page's two signature functions and
   has the sandbox check each against the ticket it issued (POST /sandbox/jssdk/verify);
   ww.startLiving does what WeCom's client would, in the sandbox (POST /sandbox/jssdk/startLiving),
   as the teacher named by the script tag's data-wecom-userid (the real client knows who is signed
   in; this stand-in has to be told). Errors come back as {errMsg} like WeCom's. Both go to the
   corp ww.register names (corpId): a sandbox serving several corps checks that corp's tickets
   and starts the lesson in that corp's school. */
(function () {
  "use strict";

  var script = document.currentScript;
  var base = new URL(script.src).origin;
  var userid = (script.dataset && script.dataset.wecomUserid) || "";
  var registration = null;
  var corpId = "";

  function post(path, body) {
    var query = corpId ? "?corp=" + encodeURIComponent(corpId) : "";
    return fetch(base + path + query, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) { return response.json(); });
  }

  function pageUrl() {
    return window.location.href.split("#")[0];
  }

  function verify(kind, getSignature) {
    if (typeof getSignature !== "function") { return Promise.resolve(false); }
    var url = pageUrl();
    return Promise.resolve(getSignature(url)).then(function (signed) {
      signed = signed || {};
      return post("/sandbox/jssdk/verify", {
        kind: kind,
        url: url,
        timestamp: signed.timestamp,
        nonceStr: signed.nonceStr,
        signature: signed.signature
      }).then(function (answer) { return answer.ok === true; });
    });
  }

  function settle(options, name, value) {
    if (options && typeof options[name] === "function") { options[name](value); }
  }

  var ww = {
    env: { isWeCom: true, isWeChat: false },
    SDK_VERSION: "sandbox",

    register: function (options) {
      options = options || {};
      corpId = typeof options.corpId === "string" ? options.corpId : "";
      registration = Promise.all([
        verify("corp", options.getConfigSignature),
        verify("agent", options.getAgentConfigSignature)
      ]).then(
        function (results) {
          if (!results[0]) { settle(options, "onConfigFail", { errMsg: "config:fail invalid signature" }); }
          if (!results[1]) {
            settle(options, "onAgentConfigFail", { errMsg: "agentConfig:fail invalid signature" });
          }
          if (results[0]) { settle(options, "onConfigSuccess", { errMsg: "config:ok" }); }
          if (results[1]) { settle(options, "onAgentConfigSuccess", { errMsg: "agentConfig:ok" }); }
          return results[0] && results[1];
        },
        function () {
          settle(options, "onAgentConfigFail", { errMsg: "agentConfig:fail" });
          return false;
        }
      );
      return registration;
    },

    startLiving: function (params) {
      params = params || {};
      var call = (registration || Promise.resolve(false)).then(function (registered) {
        if (!registered) { throw { errMsg: "startLiving:fail no permission" }; }
        var body = {};
        ["livingId", "liveType", "theme", "departmentIds", "livingStart", "livingDuration",
          "description", "remindTime"].forEach(function (key) {
          if (params[key] !== undefined) { body[key] = params[key]; }
        });
        return post("/sandbox/jssdk/startLiving", { userid: userid, params: body }).then(
          function (answer) {
            if (answer.errMsg !== "startLiving:ok") {
              throw { errMsg: answer.errMsg || "startLiving:fail" };
            }
            return { errMsg: answer.errMsg, livingId: answer.livingId };
          },
          function () { throw { errMsg: "startLiving:fail network error" }; }
        );
      });
      call.then(
        function (result) { settle(params, "success", result); settle(params, "complete", result); },
        function (error) { settle(params, "fail", error); settle(params, "complete", error); }
      );
      return call;
    }
  };

  window.ww = ww;
}());
