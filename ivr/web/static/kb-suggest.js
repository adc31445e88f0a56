// The FAQ entries suggested for the call in the screen-pop (templates/agent.html's #kb-suggest):
// when a call is offered (agent-live.js's "console-message" events), the entries whose category
// is a flow node or request kind of the caller's IVR path are fetched and listed. Text only
// through textContent.
(function () {
  "use strict";
  var box = document.getElementById("kb-suggest");
  var list = document.getElementById("kb-suggest-list");
  if (!box || !list) { return; }

  function show(answer) {
    list.textContent = "";
    answer.entries.forEach(function (e) {
      var item = document.createElement("article");
      item.className = "kb-entry";
      item.id = "suggest-" + e.id;
      item.lang = e.lang;
      var q = document.createElement("h3");
      q.className = "kb-question";
      q.textContent = e.question;
      var a = document.createElement("p");
      a.className = "kb-answer";
      a.textContent = e.answer;
      item.appendChild(q);
      item.appendChild(a);
      list.appendChild(item);
    });
    box.dataset.callId = answer.call_id;
    box.hidden = answer.entries.length === 0;
  }

  document.addEventListener("console-message", function (event) {
    var message = event.detail;
    if (!message || message.type !== "offer") { return; }
    fetch("/agent/kb/suggestions/" + encodeURIComponent(message.call_id), {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (answer) { if (answer) { show(answer); } })
      .catch(function () { /* no suggestions: the pop is complete without them */ });
  });
})();
