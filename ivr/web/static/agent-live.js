// The agent page's live connection (ivr/web/hub.py, GET /agent/ws): connects, reconnects by
// itself with a growing, jittered delay, shows a "disconnected" banner while it is down, and
// renders the screen-pop (the `offer` message, docs/console-messages.schema.json) into
// #live-desk when a call is offered, before the phone is answered. Built with DOM calls and
// textContent only: the pop carries what callers typed, and it must never become markup.
// Other scripts on the page get each message as a "console-message" event on document.
(function () {
  "use strict";
  var box = document.getElementById("live-desk");
  if (!box || !window.WebSocket) { return; }
  var lang = document.documentElement.lang === "en" ? "en" : "ja";
  // the server sends a heartbeat after 15 s of nothing: three missed mean the line is dead
  var SILENCE_MS = 45000;
  var FIRST_DELAY_MS = 1000;
  var MAX_DELAY_MS = 30000;
  var attempts = 0;
  var socket = null;
  var watchdog = null;
  var retry = null;

  var TEXT = {
    ja: {
      disconnected: "接続が切れています。再接続しています…",
      incoming: "着信", ringing: "呼び出し中", answered: "通話中", held: "保留中", ended: "通話終了",
      caller: "発信者", withheld: "非通知", unavailable: "表示圏外", payphone: "公衆電話",
      empty: "番号なし", malformed: "番号不明", unknown: "不明",
      waited: "待ち時間", queue: "キュー", language: "言語", seconds: "秒",
      account: "お客さま番号", several: "この番号のお客さまが複数います（未選択）",
      no_account: "お客さま情報なし", status: "状態", balance: "未払い残高",
      overdue: "滞納開始", payment: "支払方法", address: "住所", meter: "メーター番号",
      phones: "電話", contacts: "直近7日の問い合わせ", none: "なし",
      ivr: "IVRでの操作", entries: "入力内容", confirmed: "確認済み", intakes: "受付",
      confirmation: "受付番号", notices: "地域のお知らせ", forms: "この電話で受け付ける",
      withdrawn: { caller_hung_up: "お客さまが電話を切りました", timed_out: "応答がなく次へ回りました", passed_on: "ほかの担当者へ回しました" },
      statuses: { active: "使用中", stopped: "停止", shut_off: "給水停止" },
      payments: { bank_debit: "口座振替", convenience_store: "コンビニ払い", credit_card: "クレジットカード", invoice: "納付書" }
    },
    en: {
      disconnected: "Disconnected. Reconnecting…",
      incoming: "Incoming call", ringing: "Ringing", answered: "On the call", held: "On hold", ended: "Call ended",
      caller: "Caller", withheld: "Withheld", unavailable: "Unavailable", payphone: "Payphone",
      empty: "No number", malformed: "Unreadable number", unknown: "Unknown",
      waited: "Waited", queue: "Queue", language: "Language", seconds: "s",
      account: "Customer number", several: "Several accounts list this number (none chosen)",
      no_account: "No account", status: "Status", balance: "Balance due",
      overdue: "Overdue since", payment: "Payment", address: "Address", meter: "Meter",
      phones: "Phones", contacts: "Contacts, last 7 days", none: "None",
      ivr: "IVR path", entries: "Keyed in", confirmed: "confirmed", intakes: "Requests",
      confirmation: "Confirmation", notices: "Notices in the area", forms: "Key a request for this call",
      withdrawn: { caller_hung_up: "The caller hung up", timed_out: "Not answered: passed on", passed_on: "Passed to another agent" },
      statuses: { active: "Active", stopped: "Stopped", shut_off: "Shut off" },
      payments: { bank_debit: "Bank debit", convenience_store: "Convenience store", credit_card: "Credit card", invoice: "Invoice" }
    }
  }[lang];

  function make(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) { return; }
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function when(iso, withDate) {
    var options = { timeZone: "Asia/Tokyo", hour: "2-digit", minute: "2-digit", second: "2-digit" };
    if (withDate) { options.month = "2-digit"; options.day = "2-digit"; delete options.second; }
    return new Date(iso).toLocaleString(lang === "ja" ? "ja-JP" : "en-GB", options);
  }

  function facts(pairs) {
    var dl = make("dl", { "class": "facts" });
    pairs.forEach(function (p) {
      if (p[1] === null || p[1] === undefined || p[1] === "") { return; }
      dl.appendChild(make("dt", {}, [p[0]]));
      dl.appendChild(make("dd", p[2] ? { id: p[2] } : {}, [String(p[1])]));
    });
    return dl;
  }

  function list(tag, items, render, id) {
    if (!items.length) { return make("p", id ? { id: id } : {}, [TEXT.none]); }
    return make(tag, id ? { id: id } : {}, items.map(function (i) { return make("li", {}, [render(i)]); }));
  }

  // --------------------------------------------------------------- the banner

  var banner = make("p", { id: "live-disconnected", "class": "error", role: "alert" }, [TEXT.disconnected]);
  banner.hidden = true;
  box.appendChild(banner);
  var pop = make("section", { id: "screen-pop", "class": "card", "aria-live": "assertive" });
  pop.hidden = true;
  box.appendChild(pop);

  function down() {
    banner.hidden = false;
    box.dataset.connected = "false";
  }

  function up() {
    banner.hidden = true;
    box.dataset.connected = "true";
  }

  // --------------------------------------------------------------- the pop

  function callerText(offer) {
    return offer.caller_number || TEXT[offer.caller_kind] || TEXT.unknown;
  }

  function account(a, index) {
    var yen = new Intl.NumberFormat(lang === "ja" ? "ja-JP" : "en-GB", { style: "currency", currency: "JPY" });
    var premises = a.premises.map(function (p) { return p.address + "（" + TEXT.meter + " " + p.meter_number + "）"; });
    return make("article", { "class": "pop-account" }, [
      make("h3", {}, [
        make("span", index === 0 ? { id: "pop-holder-name" } : {}, [a.holder_name]), " ",
        make("span", { lang: "ja" }, [a.holder_kana])
      ]),
      facts([
        [TEXT.account, a.customer_number, index === 0 ? "pop-customer-number" : null],
        [TEXT.status, TEXT.statuses[a.status] || a.status],
        [TEXT.balance, a.balance_yen ? yen.format(a.balance_yen) : null],
        [TEXT.overdue, a.overdue_since],
        [TEXT.payment, TEXT.payments[a.payment_method] || a.payment_method],
        [TEXT.address, premises.join(" / ")],
        [TEXT.phones, a.phones.join(", ")]
      ]),
      make("h4", {}, [TEXT.contacts]),
      list("ul", a.contacts, function (c) {
        var made = c.requests.map(function (r) { return r.kind + (r.confirmation ? " " + r.confirmation : ""); });
        return [when(c.at, true), c.channel, c.outcome].concat(made).filter(Boolean).join(" · ");
      })
    ]);
  }

  function accounts(offer) {
    if (!offer.accounts.length) { return [make("p", { id: "pop-no-account" }, [TEXT.no_account])]; }
    var parts = offer.account_chosen ? [] : [make("p", { "class": "error", id: "pop-several" }, [TEXT.several])];
    return parts.concat(offer.accounts.map(account));
  }

  // the page's request forms, opened for this call: the server fills in what the caller keyed
  // in the IVR (it reads the call itself; the link carries only the call's id)
  function callForms(callId) {
    var links = document.querySelectorAll("#intake-links a[id^='new-']");
    return make("ul", { "class": "links", id: "pop-forms" }, Array.prototype.map.call(links, function (a) {
      var kind = a.id.slice(4);
      var href = "/agent/calls/" + encodeURIComponent(callId) + "/intake/" + encodeURIComponent(kind);
      return make("li", {}, [make("a", { href: href, id: "pop-form-" + kind }, [a.textContent])]);
    }));
  }

  function showOffer(offer) {
    var shownAt = Date.now();
    pop.textContent = "";
    pop.appendChild(make("h2", {}, [TEXT.incoming, " — ", make("span", { id: "pop-phase" }, [TEXT.ringing])]));
    pop.appendChild(facts([
      [TEXT.caller, callerText(offer), "pop-caller"],
      [TEXT.waited, offer.waited_s === null ? null : Math.round(offer.waited_s) + " " + TEXT.seconds, "pop-waited"],
      [TEXT.queue, offer.queue],
      [TEXT.language, offer.language]
    ]));
    accounts(offer).forEach(function (n) { pop.appendChild(n); });
    if (offer.intakes.length) {
      pop.appendChild(make("h3", {}, [TEXT.intakes]));
      pop.appendChild(list("ul", offer.intakes, function (i) {
        return i.kind + " — " + TEXT.confirmation + " " + (i.confirmation || "-");
      }, "pop-intakes"));
    }
    pop.appendChild(make("h3", {}, [TEXT.ivr]));
    pop.appendChild(list("ol", offer.ivr_path, function (c) {
      return when(c.at) + " " + c.menu + " → " + c.key;
    }, "pop-ivr-path"));
    pop.appendChild(make("h3", {}, [TEXT.entries]));
    pop.appendChild(list("ul", offer.entries, function (e) {
      return e.field + ": " + (e.value === null ? "-" : e.value) + (e.confirmed ? " (" + TEXT.confirmed + ")" : "");
    }, "pop-entries"));
    pop.appendChild(make("h3", {}, [TEXT.forms]));
    pop.appendChild(callForms(offer.call_id));
    if (offer.notices.length) {
      pop.appendChild(make("h3", {}, [TEXT.notices]));
      pop.appendChild(list("ul", offer.notices, function (n) { return lang === "ja" ? n.text_ja : n.text_en; }));
    }
    pop.hidden = false;
    box.dataset.callId = offer.call_id;
    box.dataset.phase = "ringing";
    // offer (the engine's clock) to pop on screen (the browser's): the browser test reads it
    box.dataset.popLatencyMs = String(shownAt - Date.parse(offer.offered_at));
  }

  function phase(callId, name, text) {
    if (box.dataset.callId !== callId) { return; }
    box.dataset.phase = name;
    var el = document.getElementById("pop-phase");
    if (el) { el.textContent = text; }
  }

  function clear() {
    pop.hidden = true;
    pop.textContent = "";
    delete box.dataset.callId;
    delete box.dataset.phase;
  }

  var IDLE = { ready: true, paused: true, logged_out: true };

  function handle(message) {
    switch (message.type) {
      case "offer": showOffer(message); break;
      case "call_answered": phase(message.call_id, "answered", TEXT.answered); break;
      // still on the call (the phase stays): the header says the caller is held
      case "hold": phase(message.call_id, "answered", message.held ? TEXT.held : TEXT.answered); break;
      case "call_ended": phase(message.call_id, "ended", TEXT.ended); break;
      case "offer_withdrawn": phase(message.call_id, "withdrawn", TEXT.withdrawn[message.reason] || ""); break;
      case "agent_state": if (IDLE[message.status] && box.dataset.phase !== "ringing") { clear(); } break;
      default: break;
    }
    document.dispatchEvent(new CustomEvent("console-message", { detail: message }));
  }

  // --------------------------------------------------------------- the connection

  function listen() {
    clearTimeout(watchdog);
    watchdog = setTimeout(function () { if (socket) { socket.close(); } }, SILENCE_MS);
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
    ws.onopen = function () { attempts = 0; up(); listen(); };
    ws.onmessage = function (event) {
      listen();
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      handle(message);
    };
    ws.onclose = function () {
      if (socket !== ws) { return; }
      socket = null;
      clearTimeout(watchdog);
      down();
      later();
    };
  }

  window.addEventListener("online", function () { if (!socket) { attempts = 0; connect(); } });
  // no banner before the first attempt has failed: a page load is not a disconnection
  box.dataset.connected = "false";
  connect();
}());
