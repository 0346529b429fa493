// Progressive enhancement only: every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // The language switcher sends itself when a choice changes (its button stays for
  // readers without JavaScript and for keyboard users who prefer it).
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  // A refused form: move focus to the error summary so screen readers announce it.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
});

// --- Quote countdown (pay review; web quality, issue 15) -------------------------------
// The server writes the seconds the price still holds (data-seconds-left, from its own
// clock); without this script the page shows the expiry time as text. At zero the confirm
// button is disabled and the expiry is announced; the server refuses an expired quote anyway.
function corridorCountdown(box, now) {
  var clock = box.querySelector(".countdown-clock");
  var ends = now() + 1000 * parseInt(box.getAttribute("data-seconds-left"), 10);
  var form = document.getElementById("confirm-form");
  box.hidden = false;
  function tick() {
    var left = Math.max(0, Math.round((ends - now()) / 1000));
    clock.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
    if (left > 0) { window.setTimeout(tick, 1000); return; }
    box.textContent = box.getAttribute("data-expired-text");
    box.setAttribute("role", "alert");
    box.classList.add("expired");
    if (form) {
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    }
  }
  tick();
}
document.addEventListener("DOMContentLoaded", function () {
  var box = document.getElementById("quote-countdown");
  if (box) { corridorCountdown(box, Date.now); }
});
