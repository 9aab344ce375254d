"""Each page at 360 px wide, light and dark: no sideways scrolling. The
screenshots are kept in the artifacts folder whatever the outcome."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, site_row

# The elements that stick out past the viewport's right edge, for the message.
# (Not those inside a box that scrolls or clips them, like a wide table's wrapper.)
OVERFLOWING = """width => [...document.querySelectorAll('body *')]
  .filter(el => el.getBoundingClientRect().right > width + 0.5)
  .filter(el => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== 'visible') return false;
    }
    return true;
  })
  .slice(0, 8)
  .map(el => el.tagName.toLowerCase()
       + (el.className ? '.' + String(el.className).trim().replace(/\\s+/g, '.') : '')
       + ' right=' + Math.round(el.getBoundingClientRect().right))"""

# Relative luminance of the body's background (0 black, 1 white).
BACKGROUND_LUMINANCE = """() => {
  const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/[\\d.]+/g).map(Number);
  const lin = c => (c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("name", ["dashboard", "monitor", "login", "status"])
def test_a_page_fits_360_px_without_sideways_scrolling(new_page, page_paths, up_site, name, scheme):
    path, signed_in = page_paths[name]
    page = new_page(
        signed_in=signed_in, viewport={"width": 360, "height": 740}, color_scheme=scheme
    )
    response = page.goto(path)
    assert response.ok, f"{path} answered {response.status}"
    if name == "dashboard":
        expect(site_row(page, up_site.name)).to_be_visible()
    page.screenshot(path=ARTIFACTS / f"{name}-360-{scheme}.png", full_page=True)

    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 360, f"{name} is {width} px wide: {page.evaluate(OVERFLOWING, 360)}"
    luminance = page.evaluate(BACKGROUND_LUMINANCE)
    assert luminance < 0.1 if scheme == "dark" else luminance > 0.7, luminance
