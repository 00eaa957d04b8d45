// Comments and ratings: comment boxes grow with what is written, a comment can be picked
// from the school's bank, and everything typed is kept in this browser until it is saved.
// A sign-in that expires before the form is sent therefore loses nothing: on the next visit
// the page restores what was typed (unless someone has changed that field since), and drops
// each draft once the page shows it saved.
(function () {
  "use strict";

  function grow(box) {
    box.style.height = "auto";
    box.style.height = box.scrollHeight + 2 + "px";
  }

  function fieldsOf(form) {
    return Array.prototype.slice.call(form.querySelectorAll("textarea[name], select[name^='r_']"))
      .filter(function (el) { return !el.disabled; });
  }

  // What the page was served with (the stored value, or what was typed on a re-render).
  function served(el) {
    if (el.tagName === "TEXTAREA") return el.defaultValue;
    var chosen = Array.prototype.find.call(el.options, function (o) { return o.defaultSelected; });
    return chosen ? chosen.value : "";
  }

  function init(form) {
    var key = "schoolyard:comments-draft:" + location.host + location.pathname;
    var notice = document.getElementById("draft-notice");
    var drafts = {};
    try { drafts = JSON.parse(localStorage.getItem(key) || "{}") || {}; } catch (e) { drafts = {}; }

    function store() {
      try {
        if (Object.keys(drafts).length) localStorage.setItem(key, JSON.stringify(drafts));
        else localStorage.removeItem(key);
      } catch (e) { /* storage full or disabled: the form still works */ }
    }

    var byName = {};
    fieldsOf(form).forEach(function (el) { byName[el.name] = el; });

    // Restore drafts whose field still holds what the draft started from.
    var restored = 0, overtaken = 0;
    Object.keys(drafts).forEach(function (name) {
      var el = byName[name];
      var d = drafts[name];
      if (!el || !d) { delete drafts[name]; return; }
      var now = served(el);
      if (now === d.value) { delete drafts[name]; return; } // saved
      if (now !== d.from) { delete drafts[name]; overtaken++; return; } // changed by someone else
      el.value = d.value;
      restored++;
    });
    store();
    if (notice && (restored || overtaken)) {
      var parts = [];
      if (restored) parts.push("Restored " + restored + " unsaved change" + (restored === 1 ? "" : "s") + " typed earlier in this browser; save to keep them.");
      if (overtaken) parts.push(overtaken + " earlier change" + (overtaken === 1 ? " was" : "s were") + " not restored: someone has saved that field since.");
      notice.querySelector("span").textContent = parts.join(" ");
      notice.hidden = false;
      var discard = notice.querySelector("[data-discard-draft]");
      if (!restored) discard.hidden = true;
      discard.addEventListener("click", function () {
        Object.keys(drafts).forEach(function (name) {
          var el = byName[name];
          if (el) el.value = served(el);
        });
        drafts = {};
        store();
        form.querySelectorAll("textarea[data-autogrow]").forEach(grow);
        notice.hidden = true;
      });
    }

    function remember(el) {
      var from = served(el);
      if (el.value === from) delete drafts[el.name];
      else drafts[el.name] = { value: el.value, from: (drafts[el.name] || {}).from !== undefined ? drafts[el.name].from : from };
      store();
    }

    form.addEventListener("input", function (e) {
      if (e.target.matches("textarea[data-autogrow]")) grow(e.target);
      if (byName[e.target.name] === e.target) remember(e.target);
    });
    form.addEventListener("change", function (e) {
      var el = e.target;
      if (el.matches("select.bank-pick")) {
        var box = form.querySelector("textarea[name='" + el.dataset.bankFor + "']");
        if (box && el.value) {
          box.value = el.value;
          grow(box);
          remember(box);
          box.focus();
        }
        el.value = "";
        return;
      }
      if (byName[el.name] === el) remember(el);
    });

    // The bank's comments, offered in each row's picker.
    ["class_teacher", "head_teacher"].forEach(function (kind) {
      var template = document.getElementById("bank-" + kind);
      if (!template) return;
      form.querySelectorAll("select.bank-pick[data-bank='" + kind + "']").forEach(function (select) {
        select.appendChild(template.content.cloneNode(true));
      });
    });
    form.querySelectorAll("textarea[data-autogrow]").forEach(grow);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-comments-form]").forEach(init);
  });
})();
