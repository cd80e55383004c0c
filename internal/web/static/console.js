// Patchring console: a few progressive enhancements. Every page works
// without this file; it only adds confirmations, copy buttons, filter
// auto-submit and the "/" shortcut to the search box. No inline handlers
// (the Content-Security-Policy forbids them): behaviour hangs off data-*
// attributes.
(function () {
  "use strict";

  // <form data-confirm="Really?"> asks before submitting.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var msg = form.getAttribute && form.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) {
      e.preventDefault();
    }
  });

  // <button data-copy="#selector"> copies the element's text.
  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("[data-copy]");
    if (!btn) return;
    var el = document.querySelector(btn.getAttribute("data-copy"));
    if (!el || !navigator.clipboard) return;
    navigator.clipboard.writeText(el.textContent.trim()).then(function () {
      var label = btn.lastChild;
      var old = label.textContent;
      label.textContent = "Copied";
      setTimeout(function () { label.textContent = old; }, 1500);
    });
  });

  // <form data-autosubmit>: changing a select or checkbox applies it.
  document.addEventListener("change", function (e) {
    var el = e.target;
    var form = el.form;
    if (form && form.hasAttribute("data-autosubmit") && (el.tagName === "SELECT" || el.type === "checkbox")) {
      form.requestSubmit ? form.requestSubmit() : form.submit();
    }
  });

  // A window's "Repeats" select shows only the inputs of its kind
  // (<select data-kind-select> and siblings .kind-group[data-kind]).
  function showKind(sel) {
    var box = sel.closest("[data-window]");
    if (!box) return;
    box.querySelectorAll(".kind-group").forEach(function (g) {
      g.hidden = g.getAttribute("data-kind") !== sel.value;
    });
  }
  document.querySelectorAll("[data-window] select[name$='.kind']").forEach(showKind);
  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches("[data-window] select[name$='.kind']")) showKind(e.target);
  });

  // "/" focuses the element with data-hotkey="/" unless typing already.
  document.addEventListener("keydown", function (e) {
    if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target.tagName;
    if (t === "INPUT" || t === "TEXTAREA" || t === "SELECT" || e.target.isContentEditable) return;
    var el = document.querySelector('[data-hotkey="/"]');
    if (el) {
      e.preventDefault();
      el.focus();
      el.select();
    }
  });
})();
