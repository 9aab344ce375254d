"""The site page and the dashboard list for every kind and state.

States are written straight to the row here (the recorder owns them); what
is tested is how the pages show them.
"""

from datetime import timedelta

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import timezone

from monitor.maintenance import maintenance_create
from monitor.models import MonitoringGap
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_in(client, user):
    client.force_login(user)
    return client


def text_of(response):
    return response.content.decode().replace("\xa0", " ")


def tcp_site(port: int = 5432, **state) -> Site:
    site = site_create(
        project=alice_project(),
        kind="tcp",
        name=f"Port {port}",
        options={"host": "127.0.0.1", "port": port},
    )
    if state:
        Site.objects.filter(pk=site.pk).update(**state)
        site.refresh_from_db()
    return site


def page_of(client, site: Site) -> str:
    return text_of(client.get(reverse("site_detail", args=[site.pk])))


# --- the site page ------------------------------------------------------------------


def test_the_site_page_shows_kind_target_and_options(client_in):
    site = tcp_site()

    page = page_of(client_in, site)

    assert "TCP port" in page
    assert "<code>tcp://127.0.0.1:5432</code>" in page
    assert "<dt>Port</dt><dd><code>5432</code></dd>" in page
    assert "down after 1 failure, up after 1 success; re-check after 20 s" in page


@pytest.mark.parametrize(
    ("state", "shown"),
    [
        ({"status": "up"}, ">UP</span>"),
        ({"status": "unknown"}, ">UNKNOWN</span>"),
        (
            {"status": "down", "last_error_kind": "connect", "last_error_message": "Refused"},
            '<p class="site__reason">Refused</p>',
        ),
        (
            {"status": "degraded", "last_error_kind": "slow",
             "last_error_message": "Answered in 2300 ms, above the 1000 ms limit"},
            "Degraded: Answered in 2300 ms, above the 1000 ms limit",
        ),
        ({"status": "down", "enabled": False}, ">PAUSED</span>"),
    ],
)  # fmt: skip
def test_the_site_page_shows_each_state(client_in, state, shown):
    page = page_of(client_in, tcp_site(**state))

    assert shown in page


def test_a_paused_site_says_it_is_paused_and_what_it_was(client_in):
    page = page_of(client_in, tcp_site(status="down", enabled=False))

    assert "Paused: not checked until resumed. The last status was down." in page


def test_an_unconfirmed_failure_shows_how_far_confirmation_is(client_in):
    site = tcp_site(
        status="up",
        failure_threshold=3,
        failures_in_a_row=1,
        next_check_at=timezone.now() + timedelta(seconds=20),
    )

    page = page_of(client_in, site)

    assert ">UP</span>" in page
    assert (
        "1 of 3 failures, re-checking in 20 s" in page
        or "1 of 3 failures, re-checking in 19 s" in page
    )


def test_a_confirmed_down_shows_no_confirmation_line(client_in):
    site = tcp_site(status="down", failure_threshold=2, failures_in_a_row=2)

    assert "re-checking in" not in page_of(client_in, site)


def test_an_unconfirmed_recovery_shows_the_successes_counted(client_in):
    site = tcp_site(status="down", success_threshold=2, successes_in_a_row=1, next_check_at=None)

    assert "1 of 2 successes, re-checking in 20 s" in page_of(client_in, site)


def test_the_certificate_expiry_shows_when_known(client_in):
    expires = timezone.now() + timedelta(days=40)
    site = tcp_site(cert_expires_at=expires)

    page = page_of(client_in, site)

    assert "Certificate expires" in page
    assert expires.strftime("%Y-%m-%d") in page
    assert "Certificate expires" not in page_of(client_in, tcp_site(22))


def test_the_page_shows_what_a_site_depends_on_and_what_depends_on_it(client_in):
    parent = tcp_site(22)
    child = tcp_site(5432, depends_on=parent)

    parent_page, child_page = page_of(client_in, parent), page_of(client_in, child)

    assert f'<a href="{reverse("site_detail", args=[child.pk])}">Port 5432</a>' in parent_page
    assert f'<a href="{reverse("site_detail", args=[parent.pk])}">Port 22</a>' in child_page


def test_the_page_lists_recent_gaps_in_monitoring(client_in):
    site = tcp_site()
    start = timezone.now() - timedelta(hours=3)
    MonitoringGap.objects.create(site=site, started_at=start, ended_at=start + timedelta(hours=1))

    page = page_of(client_in, site)

    assert "Uptime itself was not checking then" in page
    assert "1 hour" in page
    assert "None: checked without interruption." in page_of(client_in, tcp_site(22))


def test_secrets_are_masked_on_the_site_page(client_in):
    site = site_create(project=alice_project(), url="http://127.0.0.1:8080/")
    # Written as the kind would store them (sites.services keeps secrets apart).
    Site.objects.filter(pk=site.pk).update(
        options={"url": site.url, "authType": "basic", "authUsername": "ops"},
        secrets={"authPassword": "hunter2-secret"},
    )

    page = page_of(client_in, site)

    assert "hunter2-secret" not in page
    assert "<dt>Password</dt><dd><code>********</code></dd>" in page
    assert "<dt>User name</dt><dd><code>ops</code></dd>" in page


def test_a_heartbeat_page_shows_its_ping_urls_and_a_curl_example(client_in):
    # Written directly: the heartbeat kind's validation comes with its own work.
    site = Site.objects.create(
        project=alice_project(), kind="heartbeat", url="", options={"period": 3600},
        next_check_at=None,
    )  # fmt: skip

    page = page_of(client_in, site)

    assert f'value="{site.ping_url}"' in page
    assert f"{site.ping_url}/start" in page and f"{site.ping_url}/fail" in page
    assert f"curl -fsS -m 10 --retry 5 {site.ping_url}" in page
    assert "Unnamed heartbeat" in page


# --- the dashboard list -----------------------------------------------------------


def test_the_list_counts_degraded_and_shows_kind_and_paused_apart(client_in):
    tcp_site(22, status="degraded", last_error_kind="slow", last_error_message="Slow answer")
    tcp_site(23, status="up", enabled=False)
    tcp_site(24, status="up")

    response = client_in.get(reverse("dashboard"))

    assert response.context["counts"] == {"up": 2, "degraded": 1, "down": 0, "unknown": 0}
    assert response.context["paused_count"] == 1
    page = text_of(response)
    assert ">DEGRADED</span>" in page and ">PAUSED</span>" in page
    assert "Slow answer" in page
    assert 'title="Kind">TCP port</span>' in page
    assert '<span class="stat__label">Degraded</span>' in page


def test_degraded_sites_come_right_after_down_ones(client_in):
    tcp_site(22, status="up")
    tcp_site(23, status="degraded")
    tcp_site(24, status="down")

    sites = client_in.get(reverse("dashboard")).context["sites"]

    assert [s.status for s in sites] == ["down", "degraded", "up"]


def test_pause_and_resume_buttons_work_for_a_tcp_monitor(client_in):
    site = tcp_site()

    client_in.post(reverse("site_pause", args=[site.pk]), {"next": "/"})
    site.refresh_from_db()
    assert site.paused
    client_in.post(reverse("site_resume", args=[site.pk]), {"next": "/"})
    site.refresh_from_db()
    assert not site.paused


def test_the_kind_switching_behaviour_is_a_static_file():
    with open(finders.find("sites/behaviour.js")) as script:
        text = script.read()

    assert "form[data-kind-form] select[name=kind]" in text
    assert "dataset.kinds" in text


def test_a_heartbeat_offers_no_check_now_and_refuses_one_politely(client_in):
    site = Site.objects.create(
        project=alice_project(), kind="heartbeat", url="", name="Backup", next_check_at=None
    )

    page = page_of(client_in, site)
    response = client_in.post(reverse("site_check", args=[site.pk]), follow=True)

    assert reverse("site_check", args=[site.pk]) not in page
    assert "A heartbeat is never checked: it waits for its pings." in text_of(response)


def test_a_site_in_a_maintenance_window_says_so(client_in):
    site = tcp_site(status="down")
    now = timezone.now()
    maintenance_create(
        project=site.project,
        title="Deploy",
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=1),
    )

    assert "In maintenance</span>" in page_of(client_in, site)


def test_a_site_outside_maintenance_shows_no_maintenance_tag(client_in):
    assert "In maintenance</span>" not in page_of(client_in, tcp_site())
