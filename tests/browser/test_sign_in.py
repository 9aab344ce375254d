"""First run and signing in, in a real browser."""

import re

from playwright.sync_api import expect


def test_first_visit_leads_to_setup_which_creates_the_admin_and_signs_in(admin, monitor_app):
    assert admin.setup_url == f"{monitor_app.base_url}/setup"
    assert admin.setup_heading == "Welcome to Uptime"
    assert admin.setup_width <= 360  # done on a 360 px wide phone
    assert f"Welcome, {admin.username}" in admin.welcome


def test_setup_is_gone_once_the_admin_exists(new_page, admin):
    page = new_page()
    response = page.goto("/setup")
    assert response.status == 404


def test_an_admin_logs_in_and_out(new_page, admin, monitor_app):
    page = new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))

    page.get_by_label("Login").fill(admin.username)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".form-errors")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login"))

    page.get_by_label("Password").fill(admin.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{monitor_app.base_url}/")
    expect(page.get_by_role("heading", name="Add a monitor")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
