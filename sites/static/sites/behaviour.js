// Small behaviours for the pages, as files: the CSP allows no inline script.

// A <select data-autosubmit> submits its form when its choice changes (the
// project switcher). A file, not an onchange attribute: the CSP allows only
// our own script files.
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-autosubmit]")) {
    event.target.form.requestSubmit();
  }
});

// An <input data-select-on-focus> selects its whole value when focused (a
// token's key, shown once, to copy).
document.addEventListener("focusin", (event) => {
  if (event.target.matches("input[data-select-on-focus]")) {
    event.target.select();
  }
});
