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

// A monitor form (<form data-kind-form>) shows only the fields of the chosen
// kind: every element with data-kinds="http tcp ..." is hidden unless it
// names the kind. Without this script every field shows, and the server
// reads only the chosen kind's.
function showKindFields(form) {
  const select = form.querySelector("select[name=kind]");
  if (!select) {
    return;
  }
  for (const element of form.querySelectorAll("[data-kinds]")) {
    element.hidden = !element.dataset.kinds.split(" ").includes(select.value);
  }
}

document.addEventListener("change", (event) => {
  if (event.target.matches("form[data-kind-form] select[name=kind]")) {
    showKindFields(event.target.form);
  }
});

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[data-kind-form]").forEach(showKindFields);
});
