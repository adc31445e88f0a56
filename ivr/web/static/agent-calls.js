// The call's controls on the agent page (templates/_call_controls.html): Reject while the
// phone rings (Alt+J), Hold / Resume while on the call (Alt+H; the button follows the pushed
// "hold" message, not the click: the engine says whether the caller is held), Transfer while
// on the call (Alt+T; attended: Complete / Cancel once the department talks to the agent), and the wrap-up form after the call (Alt+W submits; a
// code is required). Follows the live messages of agent-live.js ("console-message" events)
// and posts to /api/v1 with the session's CSRF header. Text only through textContent.
(function () {
  "use strict";
  var box = document.getElementById("call-controls");
  if (!box) { return; }
  var csrf = box.dataset.csrf;
  var el = function (id) { return document.getElementById(id); };
  var ringing = el("ringing-controls"), transfer = el("transfer-form"), wrap = el("wrap-up-form");
  var holding = el("hold-controls"), holdButton = el("call-hold"), held = false;
  var status = el("call-status"), left = el("wrap-up-left"), error = el("wrap-up-error");
  var callId = null, wrapCall = null, until = null, timer = null;

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) { throw new Error(data.error || (data.fields ? Object.values(data.fields).join(", ") : r.status)); }
        return data;
      });
    });
  }

  function say(text) { status.textContent = text; }
  // the engine's refusal codes (routing.commands.Refusal) in the page's language
  var refusals = JSON.parse(el("call-refusals").textContent);
  function failed(e) {
    var why = Object.prototype.hasOwnProperty.call(refusals, e.message) ? refusals[e.message] : e.message;
    say(box.dataset.failed + ": " + why);
  }

  function consulting(on) {
    el("transfer-complete").hidden = !on;
    el("transfer-cancel").hidden = !on;
    el("transfer-go").hidden = on;
    box.dataset.transfer = on ? "consulting" : "";
    // the caller already hears hold music while the agent consults
    if (on) { holding.hidden = true; } else if (box.dataset.phase === "talking") { holding.hidden = false; }
  }

  function onHold(on) {
    held = on;
    el("call-hold-label").textContent = on ? holdButton.dataset.resume : holdButton.dataset.hold;
    holdButton.setAttribute("aria-pressed", on ? "true" : "false");
    el("hold-status").textContent = on ? el("hold-status").dataset.text : "";
    box.dataset.hold = on ? "held" : "";
    // a transfer waits for Resume (the engine refuses it while the caller is held)
    el("transfer-go").disabled = on;
  }

  function tick() {
    if (!until) { left.textContent = ""; return; }
    var s = Math.max(0, Math.round((until - Date.now()) / 1000));
    left.textContent = s + " s";
  }

  function showWrapUp(id, untilIso) {
    wrapCall = id;
    until = untilIso ? Date.parse(untilIso) : null;
    wrap.hidden = false;
    error.hidden = true;
    box.dataset.phase = "wrap_up";
    clearInterval(timer);
    timer = setInterval(tick, 1000);
    tick();
    el("wrap-up-reason").focus();
  }

  function hideWrapUp() {
    wrap.hidden = true;
    clearInterval(timer);
    until = null;
  }

  document.addEventListener("console-message", function (event) {
    var m = event.detail;
    switch (m.type) {
      case "offer": callId = m.call_id; ringing.hidden = false; transfer.hidden = true; holding.hidden = true; box.dataset.phase = "ringing"; break;
      case "offer_withdrawn": ringing.hidden = true; box.dataset.phase = ""; break;
      case "call_answered": callId = m.call_id; ringing.hidden = true; transfer.hidden = false; box.dataset.phase = "talking"; consulting(false); onHold(false); break;
      case "hold": if (m.call_id === callId) { onHold(m.held); } break;
      case "call_ended": transfer.hidden = true; consulting(false); holding.hidden = true; onHold(false); showWrapUp(m.call_id, m.wrap_up_until); break;
      case "transfer": say(m.step + " " + m.target + (m.detail ? " (" + m.detail + ")" : "")); box.dataset.transferStep = m.step;
        consulting(m.step === "consulting"); break;
      case "wrap_up": if (m.call_id === wrapCall) { hideWrapUp(); box.dataset.wrapUp = m.reason; box.dataset.phase = ""; } break;
      default: break;
    }
  });

  el("pop-reject").addEventListener("click", function () {
    post("/api/v1/agent/reject").then(function () { ringing.hidden = true; }, failed);
  });

  holdButton.addEventListener("click", function () {
    post("/api/v1/calls/" + encodeURIComponent(callId) + (held ? "/resume" : "/hold")).catch(failed);
  });

  transfer.addEventListener("submit", function (e) {
    e.preventDefault();
    var target = el("transfer-target").value.split(":");
    var body = { mode: el("transfer-attended").checked ? "attended" : "blind" };
    body[target[0] === "queue" ? "to_queue" : "to_department"] = target[1];
    post("/api/v1/calls/" + encodeURIComponent(callId) + "/transfer", body).catch(failed);
  });
  el("transfer-complete").addEventListener("click", function () {
    post("/api/v1/calls/" + encodeURIComponent(callId) + "/transfer/complete").catch(failed);
  });
  el("transfer-cancel").addEventListener("click", function () {
    post("/api/v1/calls/" + encodeURIComponent(callId) + "/transfer/cancel").then(function () { consulting(false); }, failed);
  });

  wrap.addEventListener("submit", function (e) {
    e.preventDefault();
    var reason = el("wrap-up-reason").value;
    if (!reason) { el("wrap-up-reason").focus(); return; }
    post("/api/v1/agent/wrap-up", { call_id: wrapCall, reason: reason, notes: el("wrap-up-notes").value })
      .then(function () { hideWrapUp(); el("wrap-up-notes").value = ""; el("wrap-up-reason").value = ""; },
            function (err) { error.textContent = err.message; error.hidden = false; });
  });

  document.addEventListener("keydown", function (e) {
    if (!e.altKey) { return; }
    var key = e.key.toLowerCase();
    if (key === "j" && !ringing.hidden) { e.preventDefault(); el("pop-reject").click(); }
    if (key === "w" && !wrap.hidden) { e.preventDefault(); wrap.requestSubmit(); }
    if (key === "h" && !holding.hidden) { e.preventDefault(); holdButton.click(); }
    if (key === "t" && !transfer.hidden) { e.preventDefault(); el("transfer-target").focus(); }
  });
}());
