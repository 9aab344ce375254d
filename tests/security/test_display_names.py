"""Finding 10: names cannot hide or reorder text, nor carry Slack formatting."""

import pytest
from django.core.exceptions import ValidationError

from notifications import compose
from notifications.models import Notification
from notifications.transports import slack
from sites.models import Site
from teams.services import project_create
from tests.factories import alice_project
from uptime.text import validate_display_name

SPOOFING = {
    "right-to-left override": "moc.\u202eknab",
    "zero-width space": "shop\u200b",
    "zero-width joiner": "sh\u200dop",
    "byte order mark": "\ufeffshop",
    "line separator": "shop\u2028down",
    "paragraph separator": "shop\u2029down",
}


@pytest.mark.parametrize("name", SPOOFING.values(), ids=SPOOFING.keys())
def test_a_site_name_with_an_invisible_or_layout_character_is_refused(db, name):
    site = Site(project=alice_project(), url="http://127.0.0.1:8080/", name=name)
    with pytest.raises(ValidationError) as caught:
        site.full_clean()
    assert "name" in caught.value.message_dict
    assert "invisible or layout character" in caught.value.message_dict["name"][0]


@pytest.mark.parametrize("name", SPOOFING.values(), ids=SPOOFING.keys())
def test_a_project_name_with_an_invisible_or_layout_character_is_refused(user, name):
    with pytest.raises(ValidationError) as caught:
        project_create(user=user, name=name)
    assert "name" in caught.value.message_dict


def test_the_api_answers_400_naming_the_name_field(api_client):
    response = api_client.post(
        "/api/site", {"url": "http://127.0.0.1:8080/", "name": "a\u202eb"}, format="json"
    )
    assert response.status_code == 400
    assert "name" in response.json()


@pytest.mark.parametrize("name", ["Shop — Café ☕", "日本語のサイト", "שלום", "Ünïcödé"])
def test_ordinary_names_in_any_script_are_accepted(name):
    validate_display_name(name)


def test_a_control_character_is_still_refused_with_its_own_message():
    with pytest.raises(ValidationError, match="control characters"):
        validate_display_name("a\tb")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("*bold*", "`*bold*`"),
        ("~x~", "`~x~`"),
        ("_x_", "`_x_`"),
        ("`x`", "`\u02cbx\u02cb`"),
        ("<!channel> & co", "`&lt;!channel&gt; &amp; co`"),
    ],
)
def test_slack_shows_a_site_name_as_typed_inside_one_code_span(db, make_transition, name, shown):
    site = Site.objects.create(project=alice_project(), url="https://example.com/", name=name)
    transition = make_transition(site)
    message = compose.message_for(Notification(transition=transition, site=site, event="down"))
    headline = slack.format_text(message).splitlines()[0]
    assert headline == f"{shown} (https://example.com/) is down (HTTP 503)"
    # Exactly one code span: the name cannot close it and start formatting.
    assert headline.count("`") == 2
    # The blocks carry the same headline; the header block is plain text, shown as typed.
    header, section, *_ = slack.payload(message)["blocks"]
    assert section["text"]["text"].splitlines()[0] == headline
    assert header["text"] == {"type": "plain_text", "text": f"{name} is down", "emoji": False}
