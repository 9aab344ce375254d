"""The keyboard reaches what a mouse does, focus shows, every control has a name,
and nothing a page does is blocked by the Content-Security-Policy."""

import pytest

# What has focus now, and whether it shows: an outline or a ring (box-shadow).
FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  return {
    tag: el.tagName.toLowerCase(), id: el.id, text: (el.innerText || el.value || '').trim(),
    visible: outline || style.boxShadow !== 'none',
  };
}"""

# Every form control's accessible name, as a screen reader would find it.
UNNAMED_CONTROLS = """() => {
  const text = el => (el ? el.textContent.replace(/\\s+/g, ' ').trim() : '');
  const nameOf = el =>
    (el.getAttribute('aria-label') || '').trim()
    || (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)
         .map(id => text(document.getElementById(id))).join(' ').trim()
    || [...(el.labels || [])].map(text).join(' ').trim()
    || (el.tagName === 'BUTTON' ? text(el) : '')
    || (['submit', 'button', 'reset'].includes(el.type) ? (el.value || '').trim() : '')
    || (el.getAttribute('title') || '').trim();
  return [...document.querySelectorAll('input, select, textarea, button')]
    .filter(el => el.type !== 'hidden')
    .filter(el => !nameOf(el))
    .map(el => el.outerHTML.slice(0, 160));
}"""


def test_tab_reaches_the_add_monitor_form_with_a_visible_focus(new_page):
    page = new_page(signed_in=True)
    page.goto("/")
    page.locator("form.monitor-form").wait_for()
    seen = []
    for _ in range(120):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        seen.append(focused)
        if focused["tag"] == "button" and focused["text"] == "Add monitor":
            break
    else:
        pytest.fail(f"Tab never reached the Add monitor button: {seen}")

    reached = {f["id"]: f for f in seen}
    for field in ("id_kind", "id_name", "id_url", "id_interval", "id_timeout"):
        assert field in reached, f"Tab skipped {field}: {[f['id'] or f['tag'] for f in seen]}"
    hidden_focus = [f for f in seen if not f["visible"]]
    assert hidden_focus == [], f"focus does not show on {hidden_focus}"


@pytest.mark.parametrize("name", ["dashboard", "monitor", "login", "status"])
def test_every_form_control_has_an_accessible_name(new_page, page_paths, name):
    path, signed_in = page_paths[name]
    page = new_page(signed_in=signed_in)
    assert page.goto(path).ok
    assert page.evaluate(UNNAMED_CONTROLS) == []


@pytest.mark.parametrize("name", ["dashboard", "monitor", "login", "status"])
def test_nothing_on_a_page_is_blocked_by_the_content_security_policy(new_page, page_paths, name):
    path, signed_in = page_paths[name]
    page = new_page(signed_in=signed_in)
    assert page.goto(path).ok
    page.wait_for_load_state("networkidle")
    blocked = [text for text in page.console_errors if "Content Security Policy" in text]
    assert blocked == []
