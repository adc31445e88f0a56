// The agent's case list (/agent/cases) kept live: listens on the console's live connection
// (ivr/web/hub.py, GET /agent/ws) for `case_status` messages (a department took one of the
// agent's cases in hand, or answered it) and updates that row in place, reconnecting by itself
// with a growing delay. Text only (textContent): the answer is a department's free text.
(function () {
  "use strict";
  var table = document.getElementById("my-cases");
  if (!table || !window.WebSocket) { return; }
  var FIRST_DELAY_MS = 1000;
  var MAX_DELAY_MS = 30000;
  var attempts = 0;
  var socket = null;
  var retry = null;

  function tokyo(iso) {
    // the page's own format (ivr/web/cases.py tokyo_time): 2027-02-10 09:30, Tokyo time
    return new Date(iso).toLocaleString("sv-SE", {
      timeZone: "Asia/Tokyo", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit"
    });
  }

  function changed(message) {
    var row = document.getElementById("case-" + message.case_id);
    if (!row) { return; }
    var cell = row.querySelector(".case-status");
    var answer = row.querySelector(".case-answer");
    var label = table.dataset["label_" + message.status] || message.status;
    cell.dataset.status = message.status;
    cell.textContent = label + " — " + message.by + " " + tokyo(message.at);
    if (answer && message.answer) { answer.textContent = message.answer; }
  }

  function later() {
    clearTimeout(retry);
    var delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * Math.pow(2, attempts));
    attempts += 1;
    retry = setTimeout(connect, delay * (0.5 + Math.random() / 2));
  }

  function connect() {
    clearTimeout(retry);
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/agent/ws");
    socket = ws;
    ws.onopen = function () { attempts = 0; table.dataset.live = "true"; };
    ws.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.type === "case_status") { changed(message); }
    };
    ws.onclose = function () {
      if (socket !== ws) { return; }
      socket = null;
      table.dataset.live = "false";
      later();
    };
  }

  table.dataset.live = "false";
  connect();
}());
