// A <select data-autosubmit> submits its form when its choice changes (the
// project switcher). A file, not an onchange attribute: the CSP allows only
// our own script files.
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-autosubmit]")) {
    event.target.form.requestSubmit();
  }
});
