"""The server-rendered dashboard: list, add, delete, detail and the htmx partial."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from monitor.models import Check, Transition
from sites.models import DUPLICATE_URL, Site
from sites.services import site_create
from sites.views import PAGE_SIZE
from tests.factories import alice_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_in(client, user):
    client.force_login(user)
    return client


def down_site(**overrides):
    site = site_create(project=alice_project(), url="http://127.0.0.1:9/", name="Broken backend")
    fields = {
        "status": Site.Status.DOWN,
        "last_checked_at": timezone.now() - timedelta(minutes=3),
        "last_response_ms": 12,
        "last_error_kind": "connect",
        "last_error_message": "Connection refused by 127.0.0.1:9",
        **overrides,
    }
    Site.objects.filter(pk=site.pk).update(**fields)
    site.refresh_from_db()
    return site


def text_of(response):
    return response.content.decode().replace("\xa0", " ")


def test_an_anonymous_visitor_is_sent_to_the_login_page(client, user):
    response = client.get(reverse("dashboard"))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/"


def test_an_anonymous_htmx_poll_gets_401_with_a_full_page_redirect_to_login(client, user):
    response = client.get(
        reverse("site_list"),
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/"},
    )

    assert response.status_code == 401
    assert response["HX-Redirect"] == f"{reverse('login')}?next=/"
    assert b"<html" not in response.content


def test_the_dashboard_shows_a_down_site_with_badge_relative_time_and_reason(client_in):
    down_site()

    response = client_in.get(reverse("dashboard"))

    page = text_of(response)
    assert response.status_code == 200
    assert "Broken backend" in page
    assert "http://127.0.0.1:9/" in page
    assert 'class="badge badge--down"' in page
    assert ">DOWN</span>" in page
    assert "3 minutes ago" in page
    assert "Connection refused by 127.0.0.1:9" in page
    # Refused: no HTTP answer, so no response time (not "12 ms", not "0 ms").
    assert "<dt>Response</dt><dd>—" in page


def test_a_down_site_without_an_error_message_shows_its_status_code(client_in):
    down_site(last_error_kind="http_status", last_error_message="", last_status_code=503)

    page = text_of(client_in.get(reverse("dashboard")))

    assert "HTTP 503" in page


def test_the_exact_check_time_is_in_a_title_attribute(client_in):
    checked = timezone.now().replace(microsecond=0) - timedelta(hours=2)
    down_site(last_checked_at=checked)

    page = text_of(client_in.get(reverse("dashboard")))

    assert f'title="{checked:%Y-%m-%d %H:%M:%S} UTC"' in page
    assert "2 hours ago" in page


def test_the_summary_counts_sites_by_status_and_marks_paused_ones(client_in):
    down_site()
    up = site_create(project=alice_project(), url="http://127.0.0.1:10/", name="Healthy")
    Site.objects.filter(pk=up.pk).update(status=Site.Status.UP, last_response_ms=40)
    site_create(project=alice_project(), url="http://127.0.0.1:11/", name="Fresh", enabled=False)

    response = client_in.get(reverse("dashboard"))

    counts = response.context["counts"]
    assert counts == {"up": 1, "degraded": 0, "down": 1, "unknown": 1}
    assert response.context["paused_count"] == 1
    page = text_of(response)
    assert ">UP</span>" in page
    assert ">DOWN</span>" in page
    assert ">PAUSED</span>" in page
    assert "site--paused" in page
    assert 'title="Not being checked; last status unknown">Paused</span>' in page


def test_down_sites_are_listed_first(client_in):
    up = site_create(project=alice_project(), url="http://127.0.0.1:10/", name="A healthy one")
    Site.objects.filter(pk=up.pk).update(status=Site.Status.UP)
    down_site(name="Z broken one")

    sites = client_in.get(reverse("dashboard")).context["sites"]

    assert [site.name for site in sites] == ["Z broken one", "A healthy one"]


def test_with_no_sites_the_dashboard_shows_the_empty_state(client_in):
    page = text_of(client_in.get(reverse("dashboard")))

    assert "No sites yet — add one above." in page


def test_a_site_name_with_markup_is_escaped(client_in):
    site_create(
        project=alice_project(), url="http://127.0.0.1:9/", name="<script>alert(1)</script>"
    )

    for url in (reverse("dashboard"), reverse("site_list")):
        page = text_of(client_in.get(url))
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_page_loads_htmx_locally_and_polls_the_partial(client_in):
    page = text_of(client_in.get(reverse("dashboard")))

    assert '<script src="/static/django_htmx/htmx-2.min.js" defer>' in page
    assert f'hx-get="{reverse("site_list")}"' in page
    assert 'hx-trigger="every 5s"' in page
    assert "//cdn" not in page and "unpkg" not in page


def test_the_htmx_partial_returns_only_the_site_list(client_in):
    down_site()

    response = client_in.get(reverse("site_list"), headers={"HX-Request": "true"})

    page = text_of(response)
    assert response.status_code == 200
    assert page.lstrip().startswith('<section id="site-list"')
    assert "<html" not in page
    assert reverse("site_add") not in page
    assert "Broken backend" in page
    assert "Connection refused by 127.0.0.1:9" in page
    assert "no-cache" in response["Cache-Control"]


def test_adding_a_valid_site_stores_its_normalised_url_and_redirects(client_in):
    response = client_in.post(
        reverse("site_add"),
        {"url": "HTTP://127.0.0.1:8080", "name": "Local app", "interval": "30", "timeout": "5"},
        follow=True,
    )

    assert response.redirect_chain == [(reverse("dashboard"), 302)]
    site = Site.objects.get()
    assert (site.url, site.name, site.interval, site.timeout) == (
        "http://127.0.0.1:8080/",
        "Local app",
        30,
        5,
    )
    assert "Now monitoring Local app." in text_of(response)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"url": "ftp://x", "interval": "60", "timeout": "10"},
            "url",
            "Unsupported scheme 'ftp': only http and https can be monitored.",
        ),
        (
            {"url": "http://127.0.0.1:9/", "interval": "5", "timeout": "1"},
            "interval",
            "Ensure this value is greater than or equal to 10.",
        ),
        (
            {"url": "http://127.0.0.1:9/", "interval": "20", "timeout": "30"},
            "timeout",
            "The timeout (30s) cannot be longer than the interval (20s).",
        ),
        (
            {"url": "http://127.0.0.1:9/", "interval": "", "timeout": "10"},
            "interval",
            "This field is required.",
        ),
    ],
)
def test_adding_an_invalid_site_shows_the_error_next_to_the_field_and_stores_nothing(
    client_in, data, field, message
):
    response = client_in.post(reverse("site_add"), data)

    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    page = text_of(response)
    assert f'<ul class="field__errors" id="id_{field}_error">' in page
    assert not Site.objects.exists()


def test_adding_a_duplicate_url_is_refused_with_a_message(client_in):
    site_create(project=alice_project(), url="http://127.0.0.1:9/")

    response = client_in.post(
        reverse("site_add"), {"url": "http://127.0.0.1:9", "interval": "60", "timeout": "10"}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["url"] == [DUPLICATE_URL]
    assert Site.objects.count() == 1


def test_the_invalid_form_keeps_what_was_typed(client_in):
    response = client_in.post(
        reverse("site_add"), {"url": "ftp://x", "name": "Files", "interval": "60", "timeout": "10"}
    )

    page = text_of(response)
    assert 'value="ftp://x"' in page
    assert 'value="Files"' in page


def test_adding_takes_a_get_for_the_form_and_a_post_for_the_monitor(client_in):
    assert client_in.put(reverse("site_add")).status_code == 405
    assert Site.objects.count() == 0


def test_the_dashboard_fetches_the_add_form_after_the_page_and_links_to_it_without_js(client_in):
    page = text_of(client_in.get(reverse("dashboard")))

    assert "Add a monitor" in page
    assert 'class="monitor-form"' not in page
    assert f'hx-get="{reverse("site_add")}" hx-trigger="load"' in page
    assert f'href="{reverse("site_add")}"' in page


def test_the_add_form_is_a_fragment_for_htmx_and_a_page_without(client_in):
    fragment = text_of(client_in.get(reverse("site_add"), headers={"HX-Request": "true"}))
    page = text_of(client_in.get(reverse("site_add")))

    assert fragment.lstrip().startswith('<form method="post" action="/sites/add"')
    assert fragment.rstrip().endswith("</form>")
    assert "<html" in page and 'class="monitor-form"' in page
    assert "Add a monitor" in page


def test_a_user_who_may_add_nowhere_gets_403_for_the_add_form(client, user):
    from teams.models import Membership

    Membership.objects.filter(user=user).update(role="viewer")
    client.force_login(user)

    assert client.get(reverse("site_add")).status_code == 403
    assert "Add a monitor" not in text_of(client.get(reverse("dashboard")))


def test_the_delete_confirmation_page_asks_before_deleting(client_in):
    site = down_site()

    response = client_in.get(reverse("site_delete", args=[site.pk]))

    page = text_of(response)
    assert response.status_code == 200
    assert "Stop monitoring this site?" in page
    assert f'<form method="post" action="{reverse("site_delete", args=[site.pk])}"' in page
    assert Site.objects.filter(pk=site.pk).exists()


def test_confirming_the_delete_removes_the_site_and_its_history(client_in):
    site = down_site()
    check = Check.objects.create(site=site, up=False, error_kind="connect")
    Transition.objects.create(site=site, check_result=check, from_status="up", to_status="down")

    response = client_in.post(reverse("site_delete", args=[site.pk]), follow=True)

    assert response.redirect_chain == [(reverse("dashboard"), 302)]
    assert "Stopped monitoring Broken backend." in text_of(response)
    assert not Site.objects.exists()
    assert not Check.objects.exists()
    assert not Transition.objects.exists()


def test_an_htmx_delete_answers_with_a_client_redirect_to_the_dashboard(client_in):
    site = down_site()

    response = client_in.post(
        reverse("site_delete", args=[site.pk]), headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("dashboard")
    assert not Site.objects.exists()


def test_deleting_a_missing_site_is_404(client_in):
    assert client_in.post(reverse("site_delete", args=[999])).status_code == 404


def test_an_anonymous_delete_deletes_nothing(client, user):
    site = down_site()

    response = client.post(reverse("site_delete", args=[site.pk]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert Site.objects.filter(pk=site.pk).exists()


def test_the_detail_page_shows_recent_checks_and_transitions(client_in):
    site = down_site()
    now = timezone.now()
    for minutes in range(60):
        Check.objects.create(
            site=site,
            up=True,
            status_code=200,
            response_ms=30,
            checked_at=now - timedelta(minutes=minutes + 10),
        )
    failed = Check.objects.create(
        site=site,
        up=False,
        error_kind="timeout",
        error_message="No answer within 10s",
        checked_at=now,
    )
    Transition.objects.create(site=site, check_result=failed, from_status="up", to_status="down")

    response = client_in.get(reverse("site_detail", args=[site.pk]))

    page = text_of(response)
    assert response.status_code == 200
    assert len(response.context["checks"]) == 50
    assert response.context["checks"][0] == failed
    assert "Timed out</strong>: No answer within 10s" in page
    assert "(last 50)" in page
    assert len(response.context["transitions"]) == 1
    assert "notification pending" in page


def test_the_detail_page_says_why_an_alert_failed_for_good(client_in):
    site = down_site()
    transition = Transition.objects.create(
        site=site, from_status="up", to_status="down", notification_status="failed"
    )
    transition.attempts.create(outcome="retrying", error="Slack answered HTTP 500: oops")
    transition.attempts.create(
        outcome="failed", status_code=410, error="Slack answered HTTP 410: channel_is_archived"
    )
    page = text_of(client_in.get(reverse("site_detail", args=[site.pk])))
    assert "notification failed permanently: Slack answered HTTP 410: channel_is_archived" in page
    assert "oops" not in page


def test_the_detail_page_shows_each_channels_message_and_why_one_failed(client_in):
    from notifications.models import Channel, Notification

    site = down_site()
    transition = Transition.objects.create(
        site=site, from_status="up", to_status="down", notification_status="sent"
    )
    ops = Channel.objects.create(project=site.project, kind="slack", name="Ops Slack")
    hook = Channel.objects.create(project=site.project, kind="webhook", name="Our hook")
    failed = Notification.objects.create(
        channel=ops, site=site, transition=transition, event="down", key="t1", status="failed"
    )
    failed.tries.create(
        transition=transition, outcome="failed", error="Slack answered HTTP 404: no_service"
    )
    Notification.objects.create(
        channel=hook, site=site, transition=transition, event="down", key="t1", status="sent"
    )
    page = text_of(client_in.get(reverse("site_detail", args=[site.pk])))
    assert "down to Ops Slack: failed permanently: Slack answered HTTP 404: no_service" in page
    assert "down to Our hook: sent" in page


def test_the_detail_page_of_a_missing_site_is_404(client_in):
    assert client_in.get(reverse("site_detail", args=[999])).status_code == 404


def test_the_nav_links_to_admin_and_the_api_docs_and_logs_out_by_post(client, admin_user):
    client.force_login(admin_user)

    page = text_of(client.get(reverse("dashboard")))

    assert 'href="/admin/"' in page
    assert f'href="{reverse("api-docs")}"' in page
    assert f'<form class="nav__logout" method="post" action="{reverse("logout")}">' in page


def test_logging_out_by_post_ends_the_session(client_in):
    response = client_in.post(reverse("logout"))

    assert response.status_code == 302
    assert client_in.get(reverse("dashboard")).status_code == 302


def test_logging_in_leads_to_the_dashboard(client, user):
    page = text_of(client.get(reverse("login")))
    assert 'name="login"' in page

    response = client.post(reverse("login"), {"login": "alice", "password": "s3cret-pass"})

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")


# --- pagination ----------------------------------------------------------------


def many_sites(count: int, *, status: str = Site.Status.UP, prefix: str = "Site") -> None:
    project = alice_project()
    Site.objects.bulk_create(
        Site(
            project=project,
            url=f"http://127.0.0.1:{20000 + n}/{prefix}",
            name=f"{prefix} {n:04d}",
            status=status,
        )
        for n in range(count)
    )


def test_more_sites_than_a_page_spill_onto_page_two(client_in):
    many_sites(PAGE_SIZE + 5)

    first = client_in.get(reverse("dashboard"))
    second = client_in.get(reverse("dashboard"), {"page": 2})

    assert len(first.context["sites"]) == PAGE_SIZE
    assert [site.name for site in second.context["sites"]] == [
        f"Site {n:04d}" for n in range(PAGE_SIZE, PAGE_SIZE + 5)
    ]
    page = text_of(first)
    assert 'href="/?page=2"' in page and 'rel="next"' in page
    assert f"Sites 1–{PAGE_SIZE} of {PAGE_SIZE + 5}" in page
    assert f"Sites {PAGE_SIZE + 1}–{PAGE_SIZE + 5} of {PAGE_SIZE + 5}" in text_of(second)


def test_down_sites_come_first_on_the_first_page_whatever_their_name(client_in):
    many_sites(PAGE_SIZE + 20, prefix="A healthy")
    many_sites(3, status=Site.Status.DOWN, prefix="Z broken")
    many_sites(2, status=Site.Status.UNKNOWN, prefix="M fresh")

    sites = client_in.get(reverse("dashboard")).context["sites"]

    assert [site.status for site in sites[:6]] == ["down"] * 3 + ["unknown"] * 2 + ["up"]


def test_the_summary_counts_every_site_not_just_the_page(client_in):
    many_sites(PAGE_SIZE + 10)
    many_sites(4, status=Site.Status.DOWN, prefix="Down")
    Site.objects.filter(name__in=["Site 0000", "Site 0001"]).update(enabled=False)

    response = client_in.get(reverse("dashboard"), {"page": 2})

    assert response.context["counts"] == {
        "up": PAGE_SIZE + 10,
        "degraded": 0,
        "down": 4,
        "unknown": 0,
    }
    assert response.context["paused_count"] == 2


def test_the_htmx_refresh_of_page_two_polls_and_returns_page_two(client_in):
    many_sites(PAGE_SIZE + 1)

    page = text_of(client_in.get(reverse("dashboard"), {"page": 2}))
    assert f'hx-get="{reverse("site_list")}?page=2"' in page

    partial = client_in.get(reverse("site_list"), {"page": 2}, headers={"HX-Request": "true"})
    assert [site.name for site in partial.context["sites"]] == [f"Site {PAGE_SIZE:04d}"]
    assert text_of(partial).lstrip().startswith('<section id="site-list"')


@pytest.mark.parametrize(("asked", "shown"), [("999", 2), ("abc", 1), ("0", 2)])
def test_a_page_number_out_of_range_shows_a_page_that_exists(client_in, asked, shown):
    many_sites(PAGE_SIZE + 1)

    response = client_in.get(reverse("dashboard"), {"page": asked})

    assert response.status_code == 200
    assert response.context["page_obj"].number == shown


def test_one_page_of_sites_shows_no_pager(client_in):
    many_sites(3)

    assert 'class="pager"' not in text_of(client_in.get(reverse("dashboard")))


def test_the_list_costs_the_same_queries_for_three_sites_as_for_three_pages(client_in):
    def queries_for_list() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            assert client_in.get(reverse("site_list")).status_code == 200
        return [q["sql"] for q in queries.captured_queries]

    many_sites(3)
    few = queries_for_list()
    many_sites(3 * PAGE_SIZE, prefix="More")
    many = queries_for_list()

    assert len(many) == len(few)
    # The summary is one aggregate and the page's ids one LIMITed query; the
    # page's rows and its figures (uptime) read its sites by id; checks are never read.
    reads = [sql for sql in many if 'FROM "sites_site"' in sql]
    assert len(reads) == 4
    assert any(f"LIMIT {PAGE_SIZE}" in sql for sql in reads)
    assert not any('monitor_check"' in sql for sql in many)
