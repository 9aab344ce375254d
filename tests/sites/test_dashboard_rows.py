"""The dashboard's rows, written in Python (sites.dashboard_rows): escaping and markup."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from sites.models import Site, Tag
from sites.services import site_create
from tests.factories import alice_project

pytestmark = pytest.mark.django_db

MARKUP = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def client_in(client, user):
    client.force_login(user)
    return client


def list_page(client, **params) -> str:
    response = client.get(reverse("site_list"), params, headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode().replace("\xa0", " ")


def test_a_monitor_named_script_comes_out_escaped_in_every_place_it_is_written(client_in):
    site = site_create(project=alice_project(), url="http://127.0.0.1:9/", name=MARKUP)
    Site.objects.filter(pk=site.pk).update(enabled=False)

    page = list_page(client_in)

    assert MARKUP not in page
    assert f'title="{ESCAPED}">{ESCAPED}</a>' in page  # the name
    assert f"Select {ESCAPED}</label>" in page  # the checkbox's label
    assert f'title="Check {ESCAPED} again"' in page  # the resume button
    assert f'hx-confirm="Stop monitoring {ESCAPED}? Its check history' in page


def test_quotes_in_a_url_or_a_reason_cannot_leave_their_attribute(client_in):
    url = 'http://127.0.0.1:9/?a="onmouseover=x'
    site = site_create(project=alice_project(), url=url, name="Quoted")
    Site.objects.filter(pk=site.pk).update(status="down", last_error_message='<b>"bad"</b>')

    page = list_page(client_in)

    assert '"onmouseover' not in page
    assert 'href="http://127.0.0.1:9/?a=&quot;onmouseover=x"' in page
    assert "&lt;b&gt;&quot;bad&quot;&lt;/b&gt;" in page and "<b>" not in page


def test_a_tag_named_with_markup_is_escaped_in_its_chip_and_its_group(client_in):
    site = site_create(project=alice_project(), url="http://127.0.0.1:9/", tags=["<i>x</i>"])
    Tag.objects.filter(name="<i>x</i>").update(color='"><i>')

    flat = list_page(client_in)
    grouped = list_page(client_in, group="tag")

    for page in (flat, grouped):
        assert "<i>" not in page
        assert "&lt;i&gt;x&lt;/i&gt;</span>" in page
        assert 'fill="#64748b"' in page  # a colour that is not #rrggbb shows grey
    assert f'id="pick-{site.pk}-1"' in grouped


def test_a_row_shows_the_check_time_three_ways_and_the_response_time_with_a_comma(client_in):
    checked = timezone.now() - timedelta(minutes=3)
    site = site_create(project=alice_project(), url="http://127.0.0.1:9/", name="Timed")
    Site.objects.filter(pk=site.pk).update(
        status="up", last_checked_at=checked, last_status_code=200, last_response_ms=1234
    )

    page = list_page(client_in)

    assert f'<time datetime="{checked.isoformat()}"' in page
    assert f'title="{checked:%Y-%m-%d %H:%M:%S} UTC">3 minutes ago</time>' in page
    assert "<dt>Response</dt><dd>1,234 ms</dd>" in page


def test_a_monitor_the_user_may_edit_gets_a_checkbox_and_its_actions(client_in):
    site = site_create(project=alice_project(), url="http://127.0.0.1:9/", name="Mine")

    page = list_page(client_in)

    assert f'value="{site.pk}" form="bulk-form"' in page
    assert f'action="/sites/{site.pk}/pause"' in page
    assert 'name="csrfmiddlewaretoken" value="' in page
