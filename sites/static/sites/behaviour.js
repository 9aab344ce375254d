// Small behaviours for the pages, as files: the CSP allows no inline script.

// A <select data-autosubmit> submits its form when its choice changes (the
// project switcher). A file, not an onchange attribute: the CSP allows only
// our own script files.
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-autosubmit], input[type=checkbox][data-autosubmit]")) {
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

// The dashboard's add form arrives by htmx after the page (sites.views.site_add).
document.addEventListener("htmx:load", (event) => {
  const root = event.detail.elt;
  if (root.matches("form[data-kind-form]")) {
    showKindFields(root);
  }
  root.querySelectorAll("form[data-kind-form]").forEach(showKindFields);
});

// The dashboard's bulk selection. Ticked rows (input[data-pick]) belong to
// the bulk form by its id; "select all" (data-pick-all) is shown only with
// this script. While anything is ticked, the list's htmx poll is held
// (data-hold-while-selected): a refresh would replace the rows, dropping the
// ticks and perhaps moving a row under the pointer. It resumes when nothing
// is ticked.
function picks(root) {
  return Array.from(root.querySelectorAll("input[data-pick]"));
}

function showSelection(root) {
  const all = picks(root);
  const ticked = new Set(all.filter((box) => box.checked).map((box) => box.value));
  const pickAll = root.querySelector("input[data-pick-all]");
  if (pickAll) {
    const some = all.some((box) => box.checked);
    pickAll.checked = some && all.every((box) => box.checked);
    pickAll.indeterminate = some && !pickAll.checked;
  }
  const note = root.querySelector("[data-selection-note]");
  if (note) {
    const n = ticked.size;
    note.textContent = n
      ? `${n} monitor${n === 1 ? "" : "s"} selected; updates are paused until none is.`
      : "";
  }
}

document.addEventListener("change", (event) => {
  const root = event.target.closest("[data-hold-while-selected]");
  if (!root) {
    return;
  }
  if (event.target.matches("input[data-pick-all]")) {
    for (const box of picks(root)) {
      box.checked = event.target.checked;
    }
  } else if (event.target.matches("input[data-pick]")) {
    // Grouped by tag, a monitor can show several times: tick every copy.
    for (const box of picks(root)) {
      if (box.value === event.target.value) {
        box.checked = event.target.checked;
      }
    }
  }
  showSelection(root);
});

document.addEventListener("htmx:beforeRequest", (event) => {
  const root = event.detail.elt;
  if (root.matches("[data-hold-while-selected]") && picks(root).some((box) => box.checked)) {
    event.preventDefault();
  }
});

function revealForScript(root) {
  root.querySelectorAll("[data-needs-js]").forEach((element) => {
    element.hidden = false;
  });
}

document.addEventListener("DOMContentLoaded", () => revealForScript(document));
document.addEventListener("htmx:afterSwap", (event) => revealForScript(event.detail.target));
