// The wallboard's live connection (ivr/web/wallboard.py, GET /supervisor/wallboard/ws): each
// message carries the board rendered by the server for this page (autoescaped there), swapped
// in whole; the waits tick here every second from their data-since times. Reconnects by itself
// with a growing delay; the status line says when the board is not live.
(function () {
  "use strict";
  var holder = document.getElementById("wallboard");
  var status = document.getElementById("wall-live");
  if (!holder || !window.WebSocket) { return; }
  var delay = 1000;
  var skew = 0;

  function show(connected) {
    status.setAttribute("data-connected", connected ? "true" : "false");
    status.textContent = status.getAttribute(connected ? "data-text-live" : "data-text-down");
  }

  function clock(seconds) {
    var s = Math.max(0, Math.round(seconds));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var mm = (h && m < 10 ? "0" : "") + m;
    return (h ? h + ":" : "") + mm + ":" + (r < 10 ? "0" : "") + r;
  }

  function tick() {
    var now = Date.now() + skew;
    document.querySelectorAll("#wallboard [data-since]").forEach(function (cell) {
      cell.textContent = clock((now - Date.parse(cell.getAttribute("data-since"))) / 1000);
    });
  }

  function rowKey(node) {
    var row = node.closest("tr");
    return row ? (row.getAttribute("data-agent") || row.getAttribute("data-call")) : null;
  }

  // a choice being made in a row (a pause reason, a queue to move to) and the focus survive
  // the next board
  function swap(html, at) {
    var focused = document.activeElement;
    var focusKey = focused && holder.contains(focused) ? rowKey(focused) : null;
    var focusClass = focusKey ? focused.className.split(" ")[0] : "";
    var chosen = {};
    holder.querySelectorAll("tr select").forEach(function (s) {
      chosen[rowKey(s) + "|" + s.name] = s.value;
    });
    holder.innerHTML = html;  // rendered and escaped by the server's template
    holder.querySelectorAll("tr select").forEach(function (s) {
      var was = chosen[rowKey(s) + "|" + s.name];
      if (was) { s.value = was; }
    });
    if (focusKey && focusClass) {
      holder.querySelectorAll("tr ." + CSS.escape(focusClass)).forEach(function (el) {
        if (rowKey(el) === focusKey) { el.focus(); }
      });
    }
    skew = Date.parse(at) - Date.now();
    tick();
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + holder.getAttribute("data-ws"));
    socket.onopen = function () { delay = 1000; show(true); };
    socket.onmessage = function (ev) {
      var msg = JSON.parse(ev.data);
      if (msg.type === "board") { swap(msg.html, msg.at); }
    };
    socket.onclose = function () {
      show(false);
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }

  show(false);
  connect();
  setInterval(tick, 1000);
  tick();
})();
