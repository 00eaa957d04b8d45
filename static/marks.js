// Mark-entry grid: totals and grades follow the typing, Enter and the arrow keys move
// between cells, a column pasted from a spreadsheet fills the cells downward, and each
// changed row saves itself. A save sends only the cells changed, each with the value this
// page last showed, so a stale tab never undoes someone else's save: the server refuses it
// (409) and the grid shows the newer values. A row that failed to save stays marked
// "Not saved" until it does.
(function () {
  "use strict";

  function gradeOf(bands, total) {
    for (var i = 0; i < bands.length; i++) {
      if (total >= bands[i].min_score) return bands[i];
    }
    return null;
  }

  function parseScore(text) {
    var t = text.trim();
    if (t === "") return { empty: true };
    if (!/^(\d+(\.\d*)?|\.\d+)$/.test(t)) return { bad: true };
    return { value: parseFloat(t) };
  }

  function fmt(n) {
    return String(Math.round(n * 100) / 100);
  }

  function setState(row, state, text) {
    row.dataset.state = state;
    row.querySelectorAll(".status").forEach(function (cell) { cell.textContent = text; });
  }

  // The value a field holds now, in the form it is compared and sent.
  function valueOf(input) {
    if (input.type === "checkbox") return input.checked ? "on" : "off";
    return input.value.trim();
  }

  function fields(row) {
    return Array.prototype.slice.call(row.querySelectorAll("input[data-max], input.remark, input.absent"));
  }

  // Recomputes the row's total and grade from its valid cells; returns the problems
  // (empty when every cell is fine).
  function recompute(row, bands) {
    var absent = row.querySelector("input.absent");
    if (absent && absent.checked) {
      row.querySelector(".total").textContent = "ABS";
      row.querySelector(".grade").textContent = "–";
      return [];
    }
    var total = 0, any = false, empty = false, problems = [];
    row.querySelectorAll("input[data-max]").forEach(function (input) {
      var s = parseScore(input.value);
      var max = parseFloat(input.dataset.max);
      var bad = s.bad || (!s.empty && (s.value > max || s.value * 2 % 1 !== 0));
      input.classList.toggle("invalid", !!bad);
      input.setAttribute("aria-invalid", bad ? "true" : "false");
      if (bad) problems.push(input.dataset.name + ": 0 to " + fmt(max) + ", whole or half marks");
      else if (!s.empty) { total += s.value; any = true; }
      else empty = true;
    });
    // A grade only once every component is in: a half-filled row is not a fail.
    var band = any && !empty && problems.length === 0 ? gradeOf(bands, total) : null;
    row.querySelector(".total").textContent = any && problems.length === 0 ? fmt(total) : "–";
    row.querySelector(".grade").textContent = band ? band.grade : "–";
    return problems;
  }

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || ""; }
    catch (e) { return ""; }
  }

  function setCsrfToken(token) {
    document.body.setAttribute("hx-headers", JSON.stringify({ "X-CSRF-Token": token }));
    document.querySelectorAll("input[name=csrf_token]").forEach(function (i) { i.value = token; });
  }

  // After signing in again in another tab, this page's token belongs to the old session:
  // fetch the new one. Resolves true when signed in again.
  function refreshCsrf() {
    return fetch("/session/csrf", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (res) {
        var type = res.headers.get("Content-Type") || "";
        if (!res.ok || type.indexOf("application/json") !== 0) return false;
        return res.json().then(function (body) {
          if (!body.csrf) return false;
          setCsrfToken(body.csrf);
          return true;
        });
      })
      .catch(function () { return false; });
  }

  var EXPIRED = "your sign-in has expired. Sign in again in another tab (this page keeps what you typed), then press Save unsaved rows.";

  function init(grid) {
    var bands = JSON.parse(grid.dataset.bands || "[]");
    var url = grid.dataset.url;
    var timers = new WeakMap();
    var inputs = function () { return Array.prototype.slice.call(grid.querySelectorAll("input[data-max]")); };
    var cols = grid.querySelectorAll("thead th[data-component]").length;

    grid.querySelectorAll("tr[data-registration]").forEach(function (row) {
      fields(row).forEach(function (input) { input.dataset.seen = valueOf(input); });
    });

    // The request body: the cells changed since last shown, each with its seen value.
    function changes(row) {
      var body = new URLSearchParams();
      var sent = [];
      body.set("registration", row.dataset.registration);
      fields(row).forEach(function (input) {
        var now = valueOf(input);
        if (now === input.dataset.seen) return;
        sent.push([input, now]);
        if (input.classList.contains("absent")) {
          body.set("absent_field", "1");
          if (input.checked) body.set("absent", "on");
          body.set("seen_absent", input.dataset.seen);
        } else {
          body.set(input.name, now);
          body.set("seen_" + input.name.replace(/^score_/, ""), input.dataset.seen);
        }
      });
      return { body: body, sent: sent };
    }

    // The row as stored now (after a refused stale save): cells someone else changed show
    // the newer value; what this user typed elsewhere in the row is kept, still unsaved.
    function showCurrent(row, current) {
      fields(row).forEach(function (input) {
        var key = input.classList.contains("absent") ? "absent" : input.name;
        if (!(key in current)) return;
        var now = key === "absent" ? (current.absent ? "on" : "off") : String(current[key]);
        if (now !== input.dataset.seen) {
          if (input.type === "checkbox") input.checked = now === "on";
          else input.value = now;
          input.classList.add("changed-elsewhere");
        }
        input.dataset.seen = now;
      });
      var absent = row.querySelector("input.absent");
      row.querySelectorAll("input[data-max]").forEach(function (i) { i.readOnly = !!(absent && absent.checked); });
      recompute(row, bands);
    }

    function finish(row) {
      row._inflight = false;
      if (row._again) {
        clearTimeout(timers.get(row));
        save(row);
      }
      updateSummary(grid);
    }

    // One request per row at a time: a change made while one is in flight is sent when it
    // returns, so "Saved" always means the latest values were stored.
    function save(row, retried) {
      if (row.dataset.state === "invalid") return;
      if (row._inflight) { row._again = true; return; }
      var c = changes(row);
      if (c.sent.length === 0) { setState(row, "saved", "Saved ✓"); updateSummary(grid); return; }
      row._inflight = true;
      row._again = false;
      setState(row, "saving", "Saving…");
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrfToken(), "X-Inline-Errors": "1", "HX-Request": "true" },
        body: c.body
      }).then(function (res) {
        return res.text().then(function (text) {
          var plain = (res.headers.get("Content-Type") || "").indexOf("text/plain") === 0;
          if (res.ok) {
            c.sent.forEach(function (s) { s[0].dataset.seen = s[1]; s[0].classList.remove("changed-elsewhere"); });
            if (row.dataset.state === "saving") setState(row, "saved", "Saved ✓");
            finish(row);
          } else if (res.status === 409 && plain) {
            try { showCurrent(row, JSON.parse(res.headers.get("X-Current-Row") || "{}")); } catch (e) { /* message still shown */ }
            setState(row, "failed", "Not saved: " + text);
            row._again = false;
            finish(row);
          } else if ((res.status === 401 || res.status === 403) && !plain) {
            // The session ended or changed: pick up the new token if signed in again.
            refreshCsrf().then(function (ok) {
              row._inflight = false;
              if (ok && !retried) { save(row, true); return; }
              setState(row, "failed", "Not saved: " + EXPIRED);
              updateSummary(grid);
            });
          } else if (res.status >= 400 && res.status < 500) {
            setState(row, "failed", "Not saved: " + (plain && text ? text : "refused (" + res.status + ")"));
            row._again = false;
            finish(row);
          } else {
            throw new Error("server " + res.status);
          }
        });
      }).catch(function () {
        setState(row, "failed", "Not saved (connection) – retrying");
        row._inflight = false;
        setTimeout(function () { if (row.dataset.state === "failed") save(row); }, 4000);
        updateSummary(grid);
      });
    }

    function changed(row) {
      var problems = recompute(row, bands);
      updateSummary(grid);
      if (problems.length) {
        clearTimeout(timers.get(row));
        setState(row, "invalid", "Not saved: " + problems.join("; "));
      } else if (row._inflight) {
        // Sent as soon as the request in flight returns.
        row._again = true;
        setState(row, "saving", "Saving…");
      } else {
        setState(row, "dirty", "Unsaved");
        clearTimeout(timers.get(row));
        timers.set(row, setTimeout(function () { save(row); }, 800));
      }
      updateSummary(grid);
    }

    // ABS: a pupil absent from the exam has no scores; ticking it clears them (after asking).
    grid.addEventListener("change", function (e) {
      if (!e.target.matches || !e.target.matches("input.absent")) return;
      var row = e.target.closest("tr[data-registration]");
      var scores = row.querySelectorAll("input[data-max]");
      if (e.target.checked) {
        var filled = Array.prototype.some.call(scores, function (i) { return i.value.trim() !== ""; });
        if (filled && !window.confirm("Mark absent (ABS) and clear this pupil's scores?")) {
          e.target.checked = false;
          return;
        }
        scores.forEach(function (i) { i.value = ""; i.readOnly = true; i.classList.remove("invalid"); });
      } else {
        scores.forEach(function (i) { i.readOnly = false; });
      }
      changed(row);
    });

    grid.addEventListener("input", function (e) {
      if (!e.target.matches || e.target.matches("input.absent")) return;
      var row = e.target.closest("tr[data-registration]");
      if (!row) return;
      e.target.classList.remove("changed-elsewhere");
      changed(row);
    });

    // A column (or block) copied from a spreadsheet fills the cells downward (and across).
    grid.addEventListener("paste", function (e) {
      var input = e.target;
      if (!input.matches || !input.matches("input[data-max]") || input.readOnly) return;
      var text = (e.clipboardData || window.clipboardData).getData("text");
      var lines = text.replace(/\r/g, "").split("\n");
      while (lines.length && lines[lines.length - 1].trim() === "") lines.pop();
      if (lines.length < 2 && lines.join("").indexOf("\t") < 0) return;
      e.preventDefault();
      var all = inputs();
      var start = all.indexOf(input);
      var column = start % cols;
      var touched = [];
      lines.forEach(function (line, r) {
        line.split("\t").forEach(function (value, c) {
          if (column + c >= cols) return;
          var target = all[start + r * cols + c];
          if (!target || target.readOnly) return;
          target.value = value.trim();
          var row = target.closest("tr[data-registration]");
          if (touched.indexOf(row) < 0) touched.push(row);
        });
      });
      touched.forEach(changed);
    });

    // Leaving a changed row saves it at once.
    grid.addEventListener("focusout", function (e) {
      var row = e.target.closest("tr[data-registration]");
      if (!row || row.contains(e.relatedTarget)) return;
      if (row.dataset.state === "dirty" || row.dataset.state === "failed") {
        clearTimeout(timers.get(row));
        save(row);
      }
    });

    grid.addEventListener("keydown", function (e) {
      var input = e.target;
      if (!input.matches || !input.matches("input[data-max]")) return;
      var all = inputs();
      var i = all.indexOf(input);
      var target = null;
      // A cell whose whole value is selected (as on arrival) counts as at both ends.
      var allSelected = input.selectionStart === 0 && input.selectionEnd === input.value.length;
      var atStart = allSelected || (input.selectionStart === 0 && input.selectionEnd === 0);
      var atEnd = allSelected || input.selectionStart === input.value.length;
      if (e.key === "Enter" || e.key === "ArrowDown") target = all[i + cols];
      else if (e.key === "ArrowUp") target = all[i - cols];
      else if (e.key === "ArrowLeft" && atStart) target = all[i - 1];
      else if (e.key === "ArrowRight" && atEnd) target = all[i + 1];
      else return;
      e.preventDefault();
      if (target) { target.focus(); target.select(); }
    });

    grid.addEventListener("focusin", function (e) {
      if (e.target.matches && e.target.matches("input[data-max]")) e.target.select();
    });

    var retry = document.querySelector("[data-save-unsaved]");
    if (retry) {
      retry.addEventListener("click", function () {
        grid.querySelectorAll("tr[data-state=dirty], tr[data-state=failed]").forEach(function (row) { save(row); });
      });
    }

    window.addEventListener("beforeunload", function (e) {
      if (grid.querySelector("tr[data-state=dirty], tr[data-state=failed], tr[data-state=saving], tr[data-state=invalid]")) {
        e.preventDefault();
        e.returnValue = "";
      }
    });
  }

  function updateSummary(grid) {
    var el = document.getElementById("unsaved-count");
    if (!el) return;
    var n = grid.querySelectorAll("tr[data-state=dirty], tr[data-state=failed], tr[data-state=invalid]").length;
    el.textContent = n === 0 ? "All changes saved." : n + (n === 1 ? " row" : " rows") + " not saved yet.";
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table[data-mark-grid]").forEach(init);
  });
})();
