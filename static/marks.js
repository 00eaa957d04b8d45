// Mark-entry grid: totals and grades follow the typing, Enter and the arrow keys move
// between cells, and each changed row saves itself through htmx (a "save" event on the
// row). A row that failed to save stays marked "Not saved" until it does.
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

  // Recomputes the row's total and grade from its valid cells; returns the problems
  // (empty when every cell is fine).
  function recompute(row, bands) {
    var absent = row.querySelector("input.absent");
    if (absent && absent.checked) {
      row.querySelector(".total").textContent = "ABS";
      row.querySelector(".grade").textContent = "–";
      return [];
    }
    var total = 0, any = false, problems = [];
    row.querySelectorAll("input[data-max]").forEach(function (input) {
      var s = parseScore(input.value);
      var max = parseFloat(input.dataset.max);
      var bad = s.bad || (!s.empty && (s.value > max || s.value * 2 % 1 !== 0));
      input.classList.toggle("invalid", !!bad);
      input.setAttribute("aria-invalid", bad ? "true" : "false");
      if (bad) problems.push(input.dataset.name + ": 0 to " + fmt(max) + ", whole or half marks");
      else if (!s.empty) { total += s.value; any = true; }
    });
    var band = any && problems.length === 0 ? gradeOf(bands, total) : null;
    row.querySelector(".total").textContent = any && problems.length === 0 ? fmt(total) : "–";
    row.querySelector(".grade").textContent = band ? band.grade : "–";
    return problems;
  }

  // One request per row at a time: a change made while one is in flight is sent when it
  // returns, so "Saved" always means the latest values were stored.
  function save(row) {
    if (row.dataset.state === "invalid") return;
    if (row._inflight) { row._again = true; return; }
    row._inflight = true;
    row._again = false;
    setState(row, "saving", "Saving…");
    htmx.trigger(row, "save");
  }

  function refusal(xhr) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (type.indexOf("text/plain") === 0 && xhr.responseText) return xhr.responseText;
    if (xhr.status === 401 || xhr.status === 403) {
      return "your sign-in has expired; sign in again in another tab, then press Save unsaved rows";
    }
    return "refused (" + xhr.status + ")";
  }

  function init(grid) {
    var bands = JSON.parse(grid.dataset.bands || "[]");
    var timers = new WeakMap();
    var inputs = function () { return Array.prototype.slice.call(grid.querySelectorAll("input[data-max]")); };
    var cols = grid.querySelectorAll("thead th[data-component]").length;

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
      row.dispatchEvent(new Event("input", { bubbles: true }));
    });

    grid.addEventListener("input", function (e) {
      var row = e.target.closest("tr[data-registration]");
      if (!row) return;
      // The checkbox's own input event is handled (after confirmation) by "change".
      if (e.target.matches && e.target.matches("input.absent") && e.isTrusted) return;
      var problems = recompute(row, bands);
      var ok = problems.length === 0;
      updateSummary(grid);
      if (ok && row._inflight) {
        // Sent as soon as the request in flight returns.
        row._again = true;
        setState(row, "saving", "Saving…");
      } else if (ok) {
        setState(row, "dirty", "Unsaved");
        clearTimeout(timers.get(row));
        timers.set(row, setTimeout(function () { save(row); }, 800));
      } else {
        clearTimeout(timers.get(row));
        setState(row, "invalid", "Not saved: " + problems.join("; "));
      }
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
      var all_selected = input.selectionStart === 0 && input.selectionEnd === input.value.length;
      var atStart = all_selected || (input.selectionStart === 0 && input.selectionEnd === 0);
      var atEnd = all_selected || input.selectionStart === input.value.length;
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

    // htmx fires afterRequest for every outcome, network errors included (status 0).
    grid.addEventListener("htmx:afterRequest", function (e) {
      var row = e.target.closest("tr[data-registration]");
      if (!row) return;
      var xhr = e.detail.xhr;
      row._inflight = false;
      if (row._again) {
        clearTimeout(timers.get(row));
        save(row);
      } else if (row.dataset.state === "invalid") {
        // Typed a bad value meanwhile: the row waits for a correction.
      } else if (e.detail.successful) {
        setState(row, "saved", "Saved ✓");
      } else if (xhr && xhr.status >= 400 && xhr.status < 500) {
        setState(row, "failed", "Not saved: " + refusal(xhr));
      } else {
        setState(row, "failed", "Not saved (connection) – retrying");
        setTimeout(function () { if (row.dataset.state === "failed") save(row); }, 4000);
      }
      updateSummary(grid);
    });

    var retry = document.querySelector("[data-save-unsaved]");
    if (retry) {
      retry.addEventListener("click", function () {
        grid.querySelectorAll("tr[data-state=dirty], tr[data-state=failed]").forEach(save);
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
