// Small behaviours that work with or without htmx.
// Forms with data-confirm ask before submitting (destructive actions).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var message = form.getAttribute && form.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// Navigation toggle on phones.
document.addEventListener("click", function (event) {
  var toggle = event.target.closest && event.target.closest("[data-nav-toggle]");
  if (toggle) {
    document.body.classList.toggle("nav-open");
  }
});

// Selects marked data-autosubmit save as soon as they change.
document.addEventListener("change", function (event) {
  var el = event.target;
  if (el.matches && el.matches("select[data-autosubmit]") && el.form) {
    el.form.requestSubmit();
  }
});

// Print buttons (report cards).
document.addEventListener("click", function (event) {
  if (event.target.closest && event.target.closest("[data-print]")) {
    window.print();
  }
});

// In a table of many fields (comments), Enter must not submit the whole form half-typed.
document.addEventListener("keydown", function (event) {
  var el = event.target;
  if (event.key === "Enter" && el.matches && el.matches("form[data-no-enter-submit] input[type=text]")) {
    event.preventDefault();
  }
});

// A file over its field's limit is refused before it is sent (a slow upload of a 10 MB
// photo only to be told "at most 2 MB" wastes a parent's data and the teacher's time).
document.addEventListener("change", function (event) {
  var el = event.target;
  if (!el.matches || !el.matches("input[type=file][data-max-bytes]")) return;
  var max = Number(el.getAttribute("data-max-bytes"));
  var file = el.files && el.files[0];
  if (file && file.size > max) {
    var mb = function (n) { return (n / 1048576).toFixed(1).replace(/\.0$/, ""); };
    el.setCustomValidity("This file is " + mb(file.size) + " MB; choose one of at most " + mb(max) + " MB.");
    el.reportValidity();
  } else {
    el.setCustomValidity("");
  }
});

// A form is sent once: a second click (or Enter) while the first post is on its way is
// ignored, and the buttons show that it is sending. htmx requests manage their own.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (event.defaultPrevented || !form.matches || form.matches("[hx-post],[hx-put],[hx-patch],[hx-delete]")) return;
  if ((form.method || "").toLowerCase() !== "post") return;
  if (form.dataset.sending === "1") {
    event.preventDefault();
    return;
  }
  form.dataset.sending = "1";
  form.setAttribute("aria-busy", "true");
  // After this tick, so the clicked button's name and value still go with the form.
  setTimeout(function () {
    form.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]").forEach(function (b) {
      b.disabled = true;
    });
  }, 0);
});

// Coming back to a page from the browser's history: its forms can be sent again.
window.addEventListener("pageshow", function () {
  document.querySelectorAll("form[data-sending]").forEach(function (form) {
    delete form.dataset.sending;
    form.removeAttribute("aria-busy");
    form.querySelectorAll("button[disabled], input[type=submit][disabled]").forEach(function (b) {
      b.disabled = false;
    });
  });
});
