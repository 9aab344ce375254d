"""Badges over HTTP: SVG and shields.io JSON by badge key, no login, nothing leaked."""

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from monitor import badges
from monitor.models import CheckRollup, MaintenanceWindow, Transition
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project

SVG = "{http://www.w3.org/2000/svg}"
SECRET_HOST = "secret-host.invalid"
SECRET_ERROR = "TLS handshake failed with internal-detail-42"


@pytest.fixture
def client():
    return Client()


@pytest.fixture
def site(db):
    return site_create(
        project=alice_project(), url=f"https://{SECRET_HOST}/private", name="Private name"
    )


def set_state(site: Site, **fields) -> Site:
    Site.objects.filter(pk=site.pk).update(**fields)
    site.refresh_from_db()
    return site


def parse(response) -> ET.Element:
    """The SVG as XML (fails on anything not well-formed)."""
    return ET.fromstring(response.content)


def title_of(response) -> str:
    return parse(response).find(f"{SVG}title").text


def visible_texts(response) -> list[str]:
    root = parse(response)
    return [t.text for t in root.iter(f"{SVG}text") if t.get("aria-hidden") != "true"]


# --- Status -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, message, color",
    [
        ({"status": "up"}, "up", "brightgreen"),
        ({"status": "degraded"}, "degraded", "yellow"),
        ({"status": "down"}, "down", "red"),
        ({"status": "unknown"}, "unknown", "lightgrey"),
        ({"status": "up", "enabled": False}, "paused", "lightgrey"),
    ],
)
def test_the_status_badge_says_the_status_in_its_colour(client, site, fields, message, color):
    set_state(site, **fields)

    svg = client.get(f"/badge/{site.badge_key}/status.svg")
    data = client.get(f"/badge/{site.badge_key}/shields/status.json").json()

    assert svg.status_code == 200
    assert title_of(svg) == f"status: {message}"
    assert visible_texts(svg) == ["status", message]
    assert badges.COLORS[color] in svg.content.decode()
    assert data == {"schemaVersion": 1, "label": "status", "message": message, "color": color}


def test_a_site_in_a_maintenance_window_shows_maintenance(client, site):
    now = timezone.now()
    MaintenanceWindow.objects.create(
        project=site.project, title="Upgrade", starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=1),
    )  # fmt: skip
    set_state(site, status="up")

    data = client.get(f"/badge/{site.badge_key}/shields/status.json").json()

    assert (data["message"], data["color"]) == ("maintenance", "blue")


def test_the_badge_is_an_accessible_image_with_short_caching(client, site):
    set_state(site, status="up")

    response = client.get(f"/badge/{site.badge_key}/status.svg")

    assert response["Content-Type"].startswith("image/svg+xml")
    assert response["Cache-Control"] == "max-age=60"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "Set-Cookie" not in response
    root = parse(response)
    assert (root.get("role"), root.get("aria-label")) == ("img", "status: up")
    assert int(root.get("width")) > 0 and root.get("height") == "20"


def test_the_json_answer_can_be_fetched_by_any_page(client, site):
    response = client.get(f"/badge/{site.badge_key}/shields/status.json")

    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Cache-Control"] == "max-age=60"


def test_a_post_is_refused(client, site):
    assert client.post(f"/badge/{site.badge_key}/status.svg").status_code == 405


# --- Uptime -----------------------------------------------------------------------------


@pytest.fixture
def site_down_24_minutes(site):
    """Known since 48 hours, down for 24 minutes three hours ago."""
    now = timezone.now()
    set_state(
        site,
        status="up",
        created_at=now - timedelta(hours=48),
        status_changed_at=now - timedelta(hours=48),
    )
    down_at = now - timedelta(hours=3)
    Transition.objects.create(site=site, from_status="up", to_status="down", created_at=down_at)
    Transition.objects.create(
        site=site, from_status="down", to_status="up", created_at=down_at + timedelta(minutes=24)
    )
    return site


@pytest.mark.parametrize(
    "period, message, color",
    [
        # 24 of 1,440 minutes down: 98.333…%, shown rounded down.
        ("24h", "98.33%", "yellowgreen"),
        # 24 of 2,880 minutes (known for 48 hours only): 99.1666…%.
        ("7d", "99.16%", "green"),
        ("30d", "99.16%", "green"),
        ("365d", "99.16%", "green"),
    ],
)
def test_the_uptime_badge_shows_the_time_weighted_uptime_of_the_period(
    client, site_down_24_minutes, period, message, color
):
    key = site_down_24_minutes.badge_key

    svg = client.get(f"/badge/{key}/uptime/{period}.svg")
    data = client.get(f"/badge/{key}/shields/uptime/{period}.json").json()

    assert title_of(svg) == f"uptime {period}: {message}"
    assert data == {
        "schemaVersion": 1,
        "label": f"uptime {period}",
        "message": message,
        "color": color,
    }


def test_a_site_never_down_shows_100_percent(client, site):
    now = timezone.now()
    set_state(site, status="up", created_at=now - timedelta(days=2), status_changed_at=now)

    data = client.get(f"/badge/{site.badge_key}/shields/uptime/30d.json").json()

    assert (data["message"], data["color"]) == ("100%", "brightgreen")


def test_a_site_never_checked_has_no_uptime_yet(client, site):
    data = client.get(f"/badge/{site.badge_key}/shields/uptime/24h.json").json()

    assert (data["message"], data["color"]) == ("no data", "lightgrey")


@pytest.mark.parametrize("suffix", ["uptime/1y.svg", "shields/uptime/90d.json"])
def test_an_unknown_period_is_a_400_that_names_the_choices(client, site, suffix):
    response = client.get(f"/badge/{site.badge_key}/{suffix}")

    assert response.status_code == 400
    assert "24h, 7d, 30d, 365d" in response.content.decode()


# --- Response time ----------------------------------------------------------------------


def rollup(site: Site, hours_ago: int, rt_sum: int, rt_count: int) -> None:
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    CheckRollup.objects.create(
        site=site,
        period=CheckRollup.Period.HOUR,
        bucket_start=hour - timedelta(hours=hours_ago),
        rt_sum=rt_sum,
        rt_count=rt_count,
        checks=rt_count,
    )


def test_the_response_badge_averages_the_last_24_hourly_rollups(client, site):
    rollup(site, 0, rt_sum=300, rt_count=2)
    rollup(site, 23, rt_sum=1000, rt_count=2)
    rollup(site, 24, rt_sum=999_999, rt_count=1)  # 24 hours before this one: left out
    CheckRollup.objects.create(  # a daily rollup is not an hour
        site=site,
        period=CheckRollup.Period.DAY,
        bucket_start=timezone.now().replace(hour=0, minute=0, second=0, microsecond=0),
        rt_sum=999_999,
        rt_count=1,
    )

    svg = client.get(f"/badge/{site.badge_key}/response.svg")
    data = client.get(f"/badge/{site.badge_key}/shields/response.json").json()

    assert title_of(svg) == "response 24h: 325 ms"
    assert data == {
        "schemaVersion": 1,
        "label": "response 24h",
        "message": "325 ms",
        "color": "green",
    }


def test_a_slow_site_shows_seconds_in_red(client, site):
    rollup(site, 1, rt_sum=6200, rt_count=1)

    data = client.get(f"/badge/{site.badge_key}/shields/response.json").json()

    assert (data["message"], data["color"]) == ("6.2 s", "red")


def test_without_rollups_the_response_badge_has_no_data(client, site):
    data = client.get(f"/badge/{site.badge_key}/shields/response.json").json()

    assert data["message"] == "no data"


# --- Labels -----------------------------------------------------------------------------


def test_a_custom_label_replaces_the_default(client, site):
    set_state(site, status="up")

    svg = client.get(f"/badge/{site.badge_key}/status.svg", {"label": "  API   server "})
    data = client.get(f"/badge/{site.badge_key}/shields/status.json", {"label": "API"}).json()

    assert title_of(svg) == "API server: up"
    assert data["label"] == "API"


def test_markup_in_the_label_stays_text(client, site):
    label = '<script>alert("x")</script>&'

    response = client.get(f"/badge/{site.badge_key}/status.svg", {"label": label})

    body = response.content.decode()
    assert response.status_code == 200
    assert "<script" not in body
    assert "&lt;script&gt;" in body
    assert title_of(response) == f"{label}: unknown"  # the XML parser reads it back as text
    assert visible_texts(response)[0] == label


def test_an_empty_label_gives_a_message_only_badge(client, site):
    set_state(site, status="down")

    response = client.get(f"/badge/{site.badge_key}/status.svg", {"label": ""})

    assert title_of(response) == "down"
    assert visible_texts(response) == ["down"]


def test_a_label_too_long_is_a_400_that_says_why(client, site):
    long = "x" * (badges.MAX_LABEL_LENGTH + 1)

    svg = client.get(f"/badge/{site.badge_key}/status.svg", {"label": long})
    data = client.get(f"/badge/{site.badge_key}/shields/status.json", {"label": long})

    assert svg.status_code == 400
    assert title_of(svg) == f"label: at most {badges.MAX_LABEL_LENGTH} characters"
    assert data.status_code == 400
    assert data.json()["isError"] is True
    assert data.json()["label"] == "label"


# --- Unknown keys, and what a badge never shows ----------------------------------------------


@pytest.mark.parametrize(
    "suffix", ["status.svg", "uptime/24h.svg", "response.svg", "shields/status.json"]
)
def test_an_unknown_key_is_a_404_not_found_badge(client, db, suffix):
    response = client.get(f"/badge/no-such-key/{suffix}")

    assert response.status_code == 404
    text = response.content.decode()
    assert "not found" in text


def test_the_site_id_is_not_a_badge_key(client, site):
    assert client.get(f"/badge/{site.pk}/status.svg").status_code == 404


def test_a_very_long_key_is_a_404(client, db):
    assert client.get(f"/badge/{'k' * 500}/status.svg").status_code == 404


def test_no_badge_shows_the_url_the_name_or_the_error(client, site):
    set_state(
        site,
        status="down",
        last_error_kind="tls",
        last_error_message=SECRET_ERROR,
        last_status_code=503,
    )
    rollup(site, 0, rt_sum=100, rt_count=1)
    suffixes = [
        "status.svg", "uptime/24h.svg", "response.svg", "shields/status.json",
        "shields/uptime/7d.json", "shields/response.json",
    ]  # fmt: skip

    for suffix in suffixes:
        body = client.get(f"/badge/{site.badge_key}/{suffix}").content.decode()
        for secret in (SECRET_HOST, "private", "Private name", SECRET_ERROR, "503", "tls"):
            assert secret not in body, (suffix, secret)


# --- Drawing (pure functions) -----------------------------------------------------------------


def test_text_is_measured_with_verdana_widths():
    assert badges.text_width("up") == pytest.approx(6.96 + 6.85)
    assert badges.text_width("W") > badges.text_width("i")
    assert badges.text_width("é") == pytest.approx(6.55)  # Latin-1 is in the table
    assert badges.text_width("世") == badges.text_width("m")  # anything else counts as wide


def test_the_message_box_grows_with_the_text():
    short = ET.fromstring(badges.render_svg(badges.Badge("status", "up", "brightgreen")))
    long = ET.fromstring(badges.render_svg(badges.Badge("status", "maintenance", "blue")))

    assert int(long.get("width")) - int(short.get("width")) >= round(
        badges.text_width("maintenance") - badges.text_width("up") - 1
    )


@pytest.mark.parametrize(
    "percent, text",
    [(100, "100%"), (99.99999, "99.99%"), (99.5, "99.5%"), (98.333333, "98.33%"), (0, "0%")],
)
def test_percentages_are_rounded_down_so_only_a_perfect_record_shows_100(percent, text):
    assert badges.format_percent(percent) == text


@pytest.mark.parametrize(
    "percent, color",
    [(99.95, "brightgreen"), (99.5, "green"), (98.5, "yellowgreen"), (96, "yellow"),
     (91, "orange"), (50, "red")],
)  # fmt: skip
def test_uptime_colours_follow_thresholds(percent, color):
    assert badges.uptime_badge(percent, label="uptime").color == color
