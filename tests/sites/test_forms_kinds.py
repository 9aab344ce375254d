"""The dashboard's add and edit forms for every kind of monitor.

tcp and http are tested here; a kind whose validation has not landed yet
(its module's OPTIONS are empty) is skipped.
"""

import pytest
from django.urls import reverse

from monitor import kinds
from sites.models import Site
from sites.services import site_create
from teams.services import project_create
from tests.factories import alice, alice_project

pytestmark = pytest.mark.django_db

SHARED = {"interval": "60", "timeout": "10"}


def landed(*option_names: str, kind: str = "http"):
    """Skip unless the kind's module accepts these options (its helper's work is merged)."""
    accepted = kinds.get(kind).OPTIONS
    return pytest.mark.skipif(
        not set(option_names) <= set(accepted), reason=f"{kind} options not on this branch"
    )


@pytest.fixture
def client_in(client, user):
    client.force_login(user)
    return client


def add(client, **fields):
    return client.post(reverse("site_add"), {**SHARED, **fields})


def text_of(response):
    return response.content.decode().replace("\xa0", " ")


# --- adding -------------------------------------------------------------------


def test_adding_a_tcp_monitor_stores_host_port_and_its_target(client_in):
    response = add(client_in, kind="tcp", host="127.0.0.1", port="5432", name="Database")

    assert response.status_code == 302
    site = Site.objects.get()
    assert (site.kind, site.url, site.name) == ("tcp", "tcp://127.0.0.1:5432", "Database")
    assert site.options == {"host": "127.0.0.1", "port": 5432}


def test_only_the_chosen_kinds_fields_are_read(client_in):
    # Without JS every fieldset shows and the browser sends them all.
    response = add(
        client_in,
        kind="tcp",
        host="127.0.0.1",
        port="6379",
        url="ftp://not-read",
        keyword="not read",
        period="60",
        record_type="MX",
    )

    assert response.status_code == 302
    assert Site.objects.get().options == {"host": "127.0.0.1", "port": 6379}


def test_a_form_without_a_kind_adds_an_http_monitor(client_in):
    assert add(client_in, url="http://127.0.0.1:8080").status_code == 302

    site = Site.objects.get()
    assert (site.kind, site.url) == ("http", "http://127.0.0.1:8080/")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"host": "127.0.0.1", "port": "70000"}, "port", "70000 is not a port: use 1 to 65535."),
        ({"host": "127.0.0.1", "port": "0"}, "port", "0 is not a port: use 1 to 65535."),
        ({"host": "127.0.0.1"}, "port", "A port is a whole number from 1 to 65535."),
        ({"port": "22"}, "host", "A host name or IP address is required."),
    ],
)
def test_a_bad_tcp_option_shows_its_error_on_its_field(client_in, fields, field, message):
    response = add(client_in, kind="tcp", **fields)

    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    assert f'<ul class="field__errors" id="id_{field}_error">' in text_of(response)
    assert not Site.objects.exists()


def test_a_bad_http_url_shows_its_error_on_the_url_field(client_in):
    response = add(client_in, kind="http", url="ftp://x")

    assert response.context["form"].errors["url"] == [
        "Unsupported scheme 'ftp': only http and https can be monitored."
    ]


def test_confirmation_settings_and_a_dependency_are_stored(client_in):
    parent = site_create(
        project=alice_project(), kind="tcp", options={"host": "127.0.0.1", "port": 22}
    )

    response = add(
        client_in,
        kind="tcp",
        host="127.0.0.1",
        port="5432",
        failure_threshold="3",
        success_threshold="2",
        retry_interval="15",
        depends_on=str(parent.pk),
    )

    assert response.status_code == 302
    site = Site.objects.exclude(pk=parent.pk).get()
    assert (site.failure_threshold, site.success_threshold, site.retry_interval) == (3, 2, 15)
    assert site.depends_on == parent


def test_a_dependency_in_another_project_is_refused_on_its_field(client_in):
    other = project_create(name="Other", user=alice())
    parent = site_create(project=other, kind="tcp", options={"host": "127.0.0.1", "port": 22})

    response = add(
        client_in,
        kind="tcp",
        host="127.0.0.1",
        port="5432",
        depends_on=str(parent.pk),
        project=str(alice_project().pk),
    )

    assert response.context["form"].errors["depends_on"] == [
        "A monitor can only depend on a monitor of its own project."
    ]
    assert '<details class="more" open>' in text_of(response)


def test_a_dependency_that_is_not_the_users_is_refused(client_in, django_user_model):
    stranger = django_user_model.objects.create_user(username="bob", password="x-pass-123")
    theirs = site_create(
        project=project_create(name="Bob's", user=stranger), url="http://127.0.0.1:9/"
    )

    response = add(client_in, kind="tcp", host="127.0.0.1", port="5432", depends_on=str(theirs.pk))

    assert response.context["form"].errors["depends_on"] == ["Choose one of your monitors."]


def test_a_threshold_out_of_range_is_shown_on_its_field(client_in):
    response = add(client_in, kind="tcp", host="127.0.0.1", port="22", failure_threshold="50")

    assert response.context["form"].errors["failure_threshold"] == [
        "Ensure this value is less than or equal to 10."
    ]


def test_the_add_form_offers_every_kind_with_fieldsets_named_for_js(client_in):
    page = text_of(client_in.get(reverse("site_add"), headers={"HX-Request": "true"}))

    assert "data-kind-form" in page
    for value, _ in kinds.CHOICES:
        assert f'<option value="{value}"' in page
    assert 'data-kinds="tcp tls dns"' in page  # host
    assert 'data-kinds="heartbeat"' in page
    assert 'type="password" name="auth_password"' in page


@landed("keyword", "method", "headers", "maxResponseMs")
def test_adding_an_http_monitor_with_its_options(client_in):
    response = add(
        client_in,
        kind="http",
        url="http://127.0.0.1:8080/health",
        method="POST",
        keyword="ok",
        expected_status="200-299,301",
        headers="X-Probe: uptime\nAccept: application/json",
        body='{"ping": 1}',
        max_response_ms="800",
    )

    assert response.status_code == 302
    options = Site.objects.get().options
    assert options["method"] == "POST"
    assert options["keyword"] == "ok"
    assert options["headers"] == {"X-Probe": "uptime", "Accept": "application/json"}
    assert options["maxResponseMs"] == 800


def test_a_malformed_header_line_is_named_on_the_headers_field(client_in):
    response = add(client_in, kind="http", url="http://127.0.0.1:8080/", headers="X-Good: 1\nbad")

    assert response.context["form"].errors["headers"] == [
        'Line 2: write a header as "Name: value".'
    ]
    assert not Site.objects.exists()


# --- editing --------------------------------------------------------------------


@pytest.fixture
def tcp_site():
    return site_create(
        project=alice_project(), kind="tcp", name="DB", options={"host": "127.0.0.1", "port": 5432}
    )


def test_the_edit_form_is_prefilled_with_the_kinds_fields_only(client_in, tcp_site):
    response = client_in.get(reverse("site_edit", args=[tcp_site.pk]))

    form = response.context["form"]
    assert form["host"].value() == "127.0.0.1"
    assert form["port"].value() == 5432
    assert "url" not in form.fields and "keyword" not in form.fields and "kind" not in form.fields
    page = text_of(response)
    assert "tcp://127.0.0.1:5432" in page
    assert "The kind cannot change" in page


def test_editing_a_tcp_monitor_changes_its_port_and_target_but_not_its_kind(client_in, tcp_site):
    response = client_in.post(
        reverse("site_edit", args=[tcp_site.pk]),
        {
            **SHARED,
            "name": "DB",
            "host": "127.0.0.1",
            "port": "6432",
            "kind": "http",
            "failure_threshold": "3",
            "success_threshold": "1",
            "retry_interval": "20",
        },
    )

    assert response.status_code == 302
    tcp_site.refresh_from_db()
    assert (tcp_site.kind, tcp_site.url, tcp_site.failure_threshold) == (
        "tcp",
        "tcp://127.0.0.1:6432",
        3,
    )


def test_a_bad_edit_shows_the_error_on_its_field_and_changes_nothing(client_in, tcp_site):
    response = client_in.post(
        reverse("site_edit", args=[tcp_site.pk]),
        {**SHARED, "host": "127.0.0.1", "port": "70000"},
    )

    assert response.context["form"].errors["port"] == ["70000 is not a port: use 1 to 65535."]
    tcp_site.refresh_from_db()
    assert tcp_site.options["port"] == 5432


def test_the_url_of_an_http_monitor_cannot_be_edited(client_in):
    site = site_create(project=alice_project(), url="http://127.0.0.1:8080/")

    client_in.post(
        reverse("site_edit", args=[site.pk]), {**SHARED, "url": "http://127.0.0.1:9999/"}
    )

    site.refresh_from_db()
    assert site.url == "http://127.0.0.1:8080/"


def test_the_dependency_select_lists_only_the_projects_other_monitors(client_in, tcp_site):
    sibling = site_create(project=alice_project(), url="http://127.0.0.1:8080/", name="Web")
    other = project_create(name="Other", user=alice())
    site_create(project=other, url="http://127.0.0.1:8081/", name="Elsewhere")

    page = text_of(client_in.get(reverse("site_edit", args=[tcp_site.pk])))

    assert f'<option value="{sibling.pk}">Web (#{sibling.pk})</option>' in page
    assert "Elsewhere" not in page
    assert f'<option value="{tcp_site.pk}"' not in page


@landed("authType", "authUsername", "authPassword")
def test_an_empty_password_keeps_the_stored_one_and_it_is_never_shown(client_in):
    site = site_create(
        project=alice_project(),
        url="http://127.0.0.1:8080/",
        options={"authType": "basic", "authUsername": "ops", "authPassword": "hunter2-secret"},
    )
    edit = reverse("site_edit", args=[site.pk])

    page = text_of(client_in.get(edit))
    assert "hunter2-secret" not in page
    assert "Leave empty to keep the one stored" in page

    response = client_in.post(
        edit,
        {
            **SHARED,
            "auth_type": "basic",
            "auth_username": "ops2",
            "auth_password": "",
            "method": "GET",
        },
    )
    assert response.status_code == 302
    site.refresh_from_db()
    assert site.secrets["authPassword"] == "hunter2-secret"
    assert site.options["authUsername"] == "ops2"


# --- tls and dns ------------------------------------------------------------------


@landed("host", "port", "certExpiryDays", kind="tls")
def test_adding_a_tls_monitor_takes_the_kinds_defaults_for_empty_fields(client_in):
    response = add(client_in, kind="tls", host="127.0.0.1", port="", cert_expiry_days="")

    assert response.status_code == 302
    site = Site.objects.get()
    assert site.url == "tls://127.0.0.1:443"
    assert (site.options["port"], site.options["certExpiryDays"]) == (443, 14)


@landed("certExpiryDays", kind="tls")
def test_a_bad_tls_option_is_shown_on_its_field(client_in):
    response = add(client_in, kind="tls", host="127.0.0.1", port="8443", cert_expiry_days="999")

    assert response.context["form"].errors["cert_expiry_days"] == [
        "999 is out of range: use 1 to 365."
    ]


@landed("host", "recordType", "expected", "resolver", kind="dns")
def test_adding_a_dns_monitor_with_expected_values_one_per_line(client_in):
    response = add(
        client_in,
        kind="dns",
        host="mail.example.invalid",
        record_type="MX",
        expected="10 mx1.example.invalid.\n\n20 MX2.example.invalid",
        resolver="127.0.0.1:5353",
    )

    assert response.status_code == 302
    site = Site.objects.get()
    assert site.options == {
        "host": "mail.example.invalid",
        "recordType": "MX",
        "expected": ["10 mx1.example.invalid", "20 mx2.example.invalid"],
        "resolver": "127.0.0.1:5353",
    }
    edit = client_in.get(reverse("site_edit", args=[site.pk])).context["form"]
    assert edit["expected"].value() == "10 mx1.example.invalid\n20 mx2.example.invalid"
    assert edit["record_type"].value() == "MX"


@landed("host", "recordType", "expected", kind="dns")
def test_a_bad_dns_value_is_shown_on_the_expected_field(client_in):
    response = add(client_in, kind="dns", host="example.invalid", record_type="A", expected="nope")

    [message] = response.context["form"].errors["expected"]
    assert "'nope' is not a valid A value" in message


@landed("caBundle", kind="tls")
def test_a_tls_monitors_ca_bundle_has_its_own_field(client_in):
    response = add(client_in, kind="tls", host="127.0.0.1", port="8443", tls_ca_bundle="junk")

    assert response.context["form"].errors["tls_ca_bundle"] == [
        "Not PEM certificates (-----BEGIN CERTIFICATE-----)."
    ]


# --- heartbeat --------------------------------------------------------------------


@landed("period", "cron", "timezone", "grace", kind="heartbeat")
def test_adding_a_heartbeat_with_a_period_and_grace(client_in):
    response = add(client_in, kind="heartbeat", name="Backup", period="3600", grace="300")

    assert response.status_code == 302
    site = Site.objects.get()
    assert (site.kind, site.url, site.next_check_at) == ("heartbeat", "", None)
    assert (site.options["period"], site.options["grace"]) == (3600, 300)
    page = text_of(client_in.get(reverse("site_detail", args=[site.pk])))
    assert site.ping_url in page


@landed("period", "cron", "timezone", "grace", kind="heartbeat")
def test_a_bad_cron_expression_is_shown_on_the_cron_field(client_in):
    response = add(client_in, kind="heartbeat", cron="every night", timezone="Europe/Berlin")

    assert response.status_code == 200
    assert "cron" in response.context["form"].errors
    assert not Site.objects.exists()
