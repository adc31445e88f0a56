// The agent's state on the agent page (templates/agent_state.html): counts the time in state
// every second, asks the server where the agent is every few seconds (the ACD moves agents too:
// an offer, a call, a wrap-up that ends), and sends Ready / Pause / Log out as PUT
// /api/v1/agent/state with the session's CSRF header instead of posting the page. Without
// this script the forms post and the page reloads: the same result. Alt+R / Alt+P / Alt+O
// press Ready / Pause / Log out, Alt+E goes to the pause reasons.
(function () {
  "use strict";
  var POLL_MS = 3000;
  var box = document.getElementById("agent-state");
  if (!box || !box.dataset.api) { return; }
  var api = box.dataset.api;
  var csrf = box.dataset.csrf;
  var seconds = Number(box.dataset.seconds) || 0;
  var base = performance.now();
  var el = function (id) { return document.getElementById(id); };

  function format(total) {
    total = Math.max(0, Math.floor(total));
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    var ss = (s < 10 ? "0" : "") + s;
    if (h) { return h + ":" + (m < 10 ? "0" : "") + m + ":" + ss; }
    return m + ":" + ss;
  }

  function tick() {
    el("state-elapsed").textContent = format(seconds + (performance.now() - base) / 1000);
  }

  function show(state) {
    var status = el("state-status");
    status.textContent = state.status_label;
    status.dataset.status = state.status;
    var reason = el("state-reason");
    reason.textContent = state.reason_label ? "（" + state.reason_label + "）" : "";
    reason.hidden = !state.reason_label;
    var pending = el("state-pending");
    pending.textContent = state.pending_label || "";
    pending.hidden = !state.pending_label;
    seconds = state.seconds;
    base = performance.now();
    tick();
  }

  function failed(e) {
    var error = el("state-error");
    // refused because a listen holds the agent's phone: say so, it is not worth a retry
    error.textContent = e && e.message === "listening" ? box.dataset.listening : box.dataset.failed;
    error.hidden = false;
  }

  function poll() {
    fetch(api, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(show)
      .catch(function () { /* the next poll tries again */ });
  }

  function send(form, event) {
    event.preventDefault();
    var body = { status: form.elements.status.value };
    if (body.status === "paused") { body.reason = form.elements.reason.value; }
    fetch(api, {
      method: "PUT",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    })
      .then(function (r) {
        if (r.ok) { return r.json(); }
        return r.json().catch(function () { return {}; }).then(function (d) {
          throw new Error(d.error || String(r.status));
        });
      })
      .then(function (state) { el("state-error").hidden = true; show(state); })
      .catch(failed);
  }

  var forms = box.querySelectorAll("form.state-form");
  for (var i = 0; i < forms.length; i++) {
    forms[i].addEventListener("submit", send.bind(null, forms[i]));
  }
  // the access keys (Alt+R, Alt+P, Alt+O, Alt+E for the reason list) whatever the browser's
  // own access-key modifier is
  var KEYS = { KeyR: "go-ready", KeyP: "go-pause", KeyO: "go-log-out", KeyE: "pause-reason" };
  document.addEventListener("keydown", function (event) {
    var target = event.altKey && !event.ctrlKey && !event.metaKey && KEYS[event.code];
    if (!target) { return; }
    event.preventDefault();
    var node = el(target);
    if (node.tagName === "BUTTON") { node.click(); } else { node.focus(); }
  });
  box.dataset.live = "yes";
  setInterval(tick, 1000);
  setInterval(poll, POLL_MS);
})();
