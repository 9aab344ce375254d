"""A monitor added from the dashboard, watched without reloading, and its page."""

import re

from playwright.sync_api import expect

from tests.browser.conftest import add_monitor, site_row


def test_a_monitor_added_from_the_dashboard_turns_up_without_a_reload(new_page, target_url):
    page = new_page(signed_in=True)
    page.goto("/")
    add_monitor(page, name="Checkout API", url=f"{target_url}/slow-first/checkout")
    expect(page.locator(".messages")).to_contain_text("Now monitoring Checkout API")
    # Its first check takes 3 s: the page after the redirect shows it unchecked.
    badge = site_row(page, "Checkout API").locator(".badge")
    expect(badge).not_to_have_text(re.compile("up", re.I), timeout=1)
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    page.evaluate("window.uptimeSamePage = true")
    refreshes = []
    page.on("response", lambda r: refreshes.append(r.url) if "/sites/list" in r.url else None)

    expect(badge).to_have_text(re.compile(r"^\s*up\s*$", re.I), timeout=30_000)

    assert page.evaluate("window.uptimeSamePage === true")
    assert navigations == []
    assert refreshes, "the row changed without the dashboard asking for the list again"


def test_the_monitor_page_shows_the_response_time_chart_and_uptime(new_page, up_site):
    page = new_page(signed_in=True)
    page.goto(f"/sites/{up_site.id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(up_site.name)
    # The hook may be on the chart's <svg> or on a box around it.
    chart = page.locator('svg[data-chart="response-time"], [data-chart="response-time"] svg')
    expect(chart.first).to_be_visible()
    expect(page.locator('[data-uptime="24h"]').first).to_contain_text("%")
