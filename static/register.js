// The register page saves as it goes: each tap (a code or a reason) is kept in this
// browser first (localStorage) and sent at once; "mark everyone present" sends every
// pupil it marked in one request. A row shows where it stands: not marked, not saved yet,
// saving, saved, or not saved with the reason. When the connection drops, the rows wait
// and are sent again every few seconds; a reload (even after closing the tab) sends what
// was never confirmed. Without this script the page is a plain form with a Save button.
(function () {
  "use strict";

  var form = document.getElementById("register");
  if (!form || !form.dataset.saveUrl) return;
  var url = form.dataset.saveUrl;
  var key = "schoolyard.register:" + location.host + url;
  var pending = readPending();
  var inflight = false;
  var timer = null;
  // Taps the server refused for good: kept (in this browser too) but not sent again until
  // the pupil is tapped again.
  var refused = {};
  // Waits between tries while the connection is down or the server busy: 3 s, doubling to a
  // minute; back to 3 s after a success.
  var wait = 3000;

  function retryLater() {
    schedule(wait);
    wait = Math.min(wait * 2, 60000);
  }

  function readPending() {
    try { return JSON.parse(localStorage.getItem(key) || "{}") || {}; }
    catch (e) { return {}; }
  }

  function keepPending() {
    var kept = {};
    Object.keys(refused).forEach(function (r) { kept[r] = refused[r]; });
    Object.keys(pending).forEach(function (r) { kept[r] = pending[r]; });
    try {
      if (Object.keys(kept).length) localStorage.setItem(key, JSON.stringify(kept));
      else localStorage.removeItem(key);
    } catch (e) { /* private mode: the page still holds them */ }
  }

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || ""; }
    catch (e) { return ""; }
  }

  function row(reg) { return document.getElementById("reg-" + reg); }

  function setState(li, state, text) {
    if (!li) return;
    li.dataset.state = state;
    li.classList.toggle("invalid", state === "failed");
    var status = li.querySelector(".status");
    if (status) status.textContent = text;
  }

  function valueOf(li) {
    var checked = li.querySelector("input[type=radio]:checked");
    var reason = li.querySelector("select");
    return { code: checked ? checked.value : "", reason: reason ? reason.value : "" };
  }

  function show(li, v) {
    li.querySelectorAll("input[type=radio]").forEach(function (i) { i.checked = i.value === v.code; });
    var reason = li.querySelector("select");
    if (reason && v.reason !== undefined) {
      var known = Array.prototype.some.call(reason.options, function (o) { return o.value === v.reason; });
      if (known) reason.value = v.reason;
    }
  }

  function summary() {
    var el = document.getElementById("register-summary");
    if (!el) return;
    var waiting = form.querySelectorAll("[data-state=dirty], [data-state=saving], [data-state=failed]").length;
    var unmarked = form.querySelectorAll("[data-state=unmarked]").length;
    if (waiting) el.textContent = waiting + (waiting === 1 ? " pupil" : " pupils") + " not saved yet.";
    else if (unmarked) el.textContent = unmarked + " not marked yet; every mark so far is saved.";
    else el.textContent = "Everyone is marked and saved.";
  }

  function queue(li) {
    var v = valueOf(li);
    if (!v.code) return;
    delete refused[li.dataset.registration];
    pending[li.dataset.registration] = v;
    keepPending();
    setState(li, "dirty", "Not saved yet");
  }

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(flush, ms);
  }

  function same(a, b) { return a && b && a.code === b.code && a.reason === b.reason; }

  // One request at a time, with every pupil waiting: a tap made meanwhile goes next.
  function flush() {
    if (inflight) return;
    var regs = Object.keys(pending).filter(function (r) { return row(r); });
    if (!regs.length) { summary(); return; }
    var sent = {};
    var body = new URLSearchParams();
    regs.forEach(function (r) {
      sent[r] = pending[r];
      body.set("code_" + r, pending[r].code);
      body.set("reason_" + r, pending[r].reason || "");
      setState(row(r), "saving", "Saving…");
    });
    inflight = true;
    summary();
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken(), "X-Inline-Errors": "1", "HX-Request": "true", "Accept": "application/json" },
      body: body
    }).then(function (res) {
      var json = (res.headers.get("Content-Type") || "").indexOf("application/json") === 0;
      return (json ? res.json() : res.text()).then(function (answer) {
        inflight = false;
        if (res.ok) {
          wait = 3000;
          regs.forEach(function (r) {
            if (same(pending[r], sent[r])) {
              delete pending[r];
              setState(row(r), "saved", "Saved ✓");
            }
          });
        } else if (json && answer.rows) {
          // Refused (a bad row, or the register itself: the window has passed, the school
          // changed its registers): nothing of this request was saved. Each refused row says
          // why and waits for a new tap; the others go again on their own. The refused taps
          // stay in this browser until then.
          regs.forEach(function (r) {
            var why = answer.rows[r];
            if (why && same(pending[r], sent[r])) {
              setState(row(r), "failed", "Not saved: " + why);
              refused[r] = pending[r];
              delete pending[r];
            }
          });
        } else if (res.status === 401 || res.status === 403) {
          // Signed out (or signed in as someone else): the taps stay in this browser and
          // are sent after signing in again and reloading.
          regs.forEach(function (r) { setState(row(r), "failed", "Not saved: sign in again, then reload this page."); });
          keepPending();
          summary();
          return;
        } else if (res.status === 408 || res.status === 429 || res.status >= 500) {
          regs.forEach(function (r) { setState(row(r), "failed", "Not saved (the server is busy), trying again…"); });
          keepPending();
          retryLater();
          summary();
          return;
        } else {
          regs.forEach(function (r) {
            setState(row(r), "failed", "Not saved: refused (" + res.status + ").");
            refused[r] = pending[r];
            delete pending[r];
          });
        }
        keepPending();
        summary();
        if (Object.keys(pending).length) schedule(0);
      });
    }).catch(function () {
      inflight = false;
      regs.forEach(function (r) { setState(row(r), "failed", "Not saved: no connection, trying again…"); });
      summary();
      retryLater();
    });
  }

  form.addEventListener("change", function (e) {
    var li = e.target.closest && e.target.closest("[data-registration]");
    if (!li) return;
    queue(li);
    schedule(0);
    summary();
  });

  var markAll = form.querySelector("[data-mark-all]");
  if (markAll) {
    markAll.addEventListener("click", function () {
      var code = markAll.dataset.markAll;
      form.querySelectorAll("[data-registration]").forEach(function (li) {
        if (valueOf(li).code) return;
        var input = li.querySelector("input[value=\"" + code + "\"]");
        if (!input) return;
        input.checked = true;
        queue(li);
      });
      schedule(0);
      summary();
    });
  }

  // With the script, every tap is already on its way: Save sends whatever still waits.
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    flush();
  });
  var saveAll = form.querySelector("[data-save-all]");
  if (saveAll) saveAll.textContent = "Save now";

  window.addEventListener("online", function () { wait = 3000; schedule(0); });
  window.addEventListener("beforeunload", function (e) {
    if (Object.keys(pending).length) {
      e.preventDefault();
      e.returnValue = "";
    }
  });

  // Taps this browser kept but the server never confirmed (the tab closed, the connection
  // dropped): shown again and sent.
  Object.keys(pending).forEach(function (r) {
    var li = row(r);
    if (!li) { delete pending[r]; return; }
    show(li, pending[r]);
    setState(li, "dirty", "Not saved yet");
  });
  keepPending();
  summary();
  schedule(0);
})();
