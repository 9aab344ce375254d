"""A public status page, seen by someone who is not signed in."""

from playwright.sync_api import expect


def test_a_public_status_page_shows_its_monitor_and_incident_without_login(new_page, status_page):
    page = new_page()  # a context of its own: no cookies
    response = page.goto(f"/status/{status_page['slug']}")
    assert response.status == 200
    assert page.url.endswith(f"/status/{status_page['slug']}")  # not sent to /login
    assert "sessionid" not in {cookie["name"] for cookie in page.context.cookies()}
    expect(page.get_by_text(status_page["incident"])).to_be_visible()
    expect(page.get_by_text(status_page["display"], exact=True).first).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
