// The regulator's live feed (issue 16): opens the page's SSE stream with EventSource
// (same origin, the session cookie), and puts each event at the top of the list. The
// browser reconnects by itself with Last-Event-ID after a connection ends, so nothing is
// lost or shown twice; ids already shown are skipped all the same. Without this script
// the page lists the newest events and says to reload.
(function () {
  "use strict";
  var KINDS = ["alert", "hold", "release", "return", "freeze", "unfreeze"];
  var SHOWN_MAX = 500;

  function item(list, ev) {
    var li = document.createElement("li");
    li.setAttribute("data-event-id", String(ev.id));
    li.setAttribute("data-kind", ev.kind);
    var time = document.createElement("span");
    time.className = "feed-time";
    time.textContent = new Date(ev.at_ms).toLocaleString(
      list.getAttribute("data-locale") || undefined,
      { timeZone: list.getAttribute("data-zone") || undefined });
    var kind = document.createElement("strong");
    kind.textContent = list.getAttribute("data-kind-" + ev.kind) || ev.kind;
    var target = document.createElement(ev.object_type === "payment" || (ev.data && ev.data.case_id) ? "a" : "span");
    if (ev.object_type === "payment") {
      target.href = "/regulator/payments/" + encodeURIComponent(ev.object_id);
    } else if (ev.data && ev.data.case_id) {
      target.href = "/regulator/cases/" + encodeURIComponent(ev.data.case_id);
    }
    target.className = "mono";
    target.textContent = ev.object_type + " " + ev.object_id;
    li.append(time, " ", kind, " ", target);
    return li;
  }

  function start(list) {
    var status = document.getElementById("feed-status");
    var say = function (key) { if (status) { status.textContent = status.getAttribute(key); } };
    var url = list.getAttribute("data-source") + "?last_event_id=" +
      encodeURIComponent(list.getAttribute("data-last-event-id") || "");
    var seen = {};
    list.querySelectorAll("li[data-event-id]").forEach(function (li) {
      seen[li.getAttribute("data-event-id")] = true;
    });
    say("data-connecting");
    var source = new EventSource(url);
    source.onopen = function () { say("data-live"); };
    source.onerror = function () { say("data-lost"); };
    var add = function (message) {
      var ev = JSON.parse(message.data);
      if (seen[String(ev.id)]) { return; }
      seen[String(ev.id)] = true;
      var empty = document.getElementById("feed-empty");
      if (empty) { empty.remove(); }
      list.insertBefore(item(list, ev), list.firstChild);
      while (list.children.length > SHOWN_MAX) { list.removeChild(list.lastChild); }
    };
    KINDS.forEach(function (kind) { source.addEventListener(kind, add); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var list = document.getElementById("feed");
    if (list && window.EventSource) { start(list); }
  });
})();
