// NeuroHub UI script: small, no framework, every page works without it. It does three things:
// 1. forms marked data-retry are sent by fetch and, on a network error, sent again with the same body — the same
//    idempotency key — so a blip never records twice; the answer replaces the page;
// 2. measurement fields with data-min / data-max are flagged as soon as a value is outside its limits;
// 3. a section with data-live listens to server-sent events and re-reads its fragment on each change.
"use strict";
(function () {
  function focusFirst(root) {
    var el = root.querySelector("[autofocus]") || root.querySelector("[data-scan]");
    if (el) { el.focus(); if (el.select && el.dataset.scan !== undefined) { el.select(); } }
  }

  function replacePage(html, url) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    document.title = doc.title;
    document.body.replaceWith(doc.body);
    if (url) { history.replaceState(null, "", url); }
    wire(document);
    focusFirst(document);
  }

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  async function submitWithRetry(form, submitter) {
    var body = new URLSearchParams(new FormData(form, submitter));
    var delays = [300, 1000, 2000, 4000];
    for (var attempt = 0; ; attempt++) {
      try {
        var res = await fetch(form.action, {
          method: "POST", body: body, credentials: "same-origin",
          headers: { "x-nh-fetch": "1", "x-nh-attempt": String(attempt + 1) }
        });
        if (res.status === 401) { location.reload(); return; }
        replacePage(await res.text(), res.redirected ? res.url : null);
        return;
      } catch (e) {
        if (attempt >= delays.length) {
          form.dataset.busy = "";
          var msg = document.createElement("div");
          msg.className = "feedback bad"; msg.setAttribute("role", "alert");
          msg.textContent = "Network error — nothing was recorded twice; press the button again to retry.";
          form.prepend(msg);
          return;
        }
        await sleep(delays[attempt]);
      }
    }
  }

  function flag(input) {
    var v = parseFloat(String(input.value).replace(",", "."));
    var min = input.dataset.min !== undefined ? parseFloat(input.dataset.min) : null;
    var max = input.dataset.max !== undefined ? parseFloat(input.dataset.max) : null;
    var out = input.value.trim() !== "" && (isNaN(v) || (min !== null && v < min) || (max !== null && v > max));
    input.classList.toggle("out", out);
    input.setAttribute("aria-invalid", out ? "true" : "false");
    var note = document.getElementById(input.id + "-flag");
    if (note) { note.textContent = out ? note.dataset.outText : ""; }
  }

  function live(section) {
    if (!window.EventSource || section.dataset.wired) { return; }
    section.dataset.wired = "1";
    var source = new EventSource(section.dataset.live);
    var busy = false;
    source.addEventListener("changed", async function () {
      if (busy) { return; }
      busy = true;
      try {
        var res = await fetch(section.dataset.fragment, { credentials: "same-origin", headers: { "x-nh-fetch": "1" } });
        if (res.status === 401) { location.reload(); return; }
        if (res.ok) {
          var doc = new DOMParser().parseFromString(await res.text(), "text/html");
          var fresh = doc.getElementById(section.id);
          if (fresh) {
            section.replaceChildren.apply(section, Array.prototype.slice.call(fresh.childNodes));
            section.dataset.updated = String(Date.now());
          }
        }
      } finally { busy = false; }
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  function wire(root) {
    root.querySelectorAll("input[data-min], input[data-max]").forEach(flag);
    root.querySelectorAll("[data-live]").forEach(live);
  }

  document.addEventListener("input", function (e) {
    if (e.target.matches && e.target.matches("input[data-min], input[data-max]")) { flag(e.target); }
  });
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.hasAttribute("data-retry") || !window.fetch) { return; }
    e.preventDefault();
    if (form.dataset.busy) { return; }
    form.dataset.busy = "1";
    submitWithRetry(form, e.submitter);
  });
  document.addEventListener("DOMContentLoaded", function () {
    wire(document);
    // browsers skip `autofocus` in some navigations (a redirect after a post, a restored tab); a station's scan
    // field must have focus all the same
    if (!document.activeElement || document.activeElement === document.body) { focusFirst(document); }
  });
})();
