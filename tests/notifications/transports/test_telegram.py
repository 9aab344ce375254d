"""Telegram: sendMessage's wire format, HTML escaping and Telegram's error objects."""

import json

import pytest
from django.core.exceptions import ValidationError
from pytest_httpserver import HTTPServer

from notifications import messages
from notifications.transports import base, telegram

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
CONFIG = {"botToken": TOKEN, "chatId": "-1001234567890"}
PATH = f"/bot{TOKEN}/sendMessage"


@pytest.fixture
def bot_api(settings):
    """A stand-in for api.telegram.org on 127.0.0.1."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    settings.UPTIME_TELEGRAM_API_URL = server.url_for("")
    yield server
    server.clear()
    server.stop()


def fail(server, status, description, **parameters):
    reply = {"ok": False, "error_code": status, "description": description}
    if parameters:
        reply["parameters"] = parameters
    server.expect_request(PATH, method="POST").respond_with_json(reply, status=status)


def sent_error(config=CONFIG, message=None) -> base.TransportError:
    with pytest.raises(base.TransportError) as caught:
        telegram.send(config, message or messages.sample(), timeout=5)
    assert TOKEN not in caught.value.message
    assert TOKEN.split(":")[1] not in caught.value.message
    return caught.value


def test_it_posts_send_message_as_json_with_html_parse_mode(bot_api):
    bot_api.expect_request(PATH, method="POST").respond_with_json(
        {"ok": True, "result": {"message_id": 7}}
    )
    sent = telegram.send(CONFIG, messages.sample(), timeout=5)
    assert sent.status_code == 200
    (request, _), *_ = bot_api.log
    assert request.headers["Content-Type"] == "application/json"
    payload = json.loads(request.get_data())
    assert payload["chat_id"] == "-1001234567890"
    assert payload["parse_mode"] == "HTML"
    assert payload["disable_web_page_preview"] is True


def test_user_text_is_escaped_so_none_of_it_becomes_markup(bot_api):
    bot_api.expect_request(PATH, method="POST").respond_with_json({"ok": True})
    telegram.send(CONFIG, messages.sample(ack_link="http://127.0.0.1:8000/ack?s=a&t=b"), timeout=5)
    text = json.loads(bot_api.log[0][0].get_data())["text"]
    lines = text.splitlines()
    assert lines[0] == (
        "\U0001f534 <b>Shop &lt;API&gt; &amp; &quot;*checkout*&quot; _v2_ @here is down</b>"
    )
    reason = "Reason: HTTP 503 Service Unavailable: &lt;html&gt; `backtick` [link](x) @channel"
    assert reason in lines
    assert "<html>" not in text
    assert '<a href="http://127.0.0.1:8000/site/42">Open the monitor</a>' in lines
    assert '<a href="http://127.0.0.1:8000/ack?s=a&amp;t=b">Acknowledge</a>' in lines


def test_a_recovery_is_marked_green_and_says_how_long_it_was_down(bot_api):
    from datetime import timedelta

    bot_api.expect_request(PATH, method="POST").respond_with_json({"ok": True})
    recovery = messages.sample(
        messages.UP, title="Shop is back up", reason="", downtime=timedelta(minutes=5)
    )
    telegram.send(CONFIG, recovery, timeout=5)
    text = json.loads(bot_api.log[0][0].get_data())["text"]
    assert text.startswith("\u2705 <b>Shop is back up</b>\nIt was down for 5 min")


def test_a_very_long_reason_is_cut_so_the_message_stays_within_telegrams_limit(bot_api):
    bot_api.expect_request(PATH, method="POST").respond_with_json({"ok": True})
    telegram.send(CONFIG, messages.sample(reason="<" * 10_000), timeout=5)
    text = json.loads(bot_api.log[0][0].get_data())["text"]
    assert len(text) < 4096
    assert text.count("&lt;") < 600
    assert "Open the monitor" in text


def test_a_429_waits_as_long_as_telegrams_retry_after_says(bot_api):
    fail(bot_api, 429, "Too Many Requests: retry after 17", retry_after=17)
    error = sent_error()
    assert not error.permanent
    assert error.retry_after == 17
    assert error.status_code == 429


def test_a_chat_that_does_not_exist_is_permanent_with_a_hint(bot_api):
    fail(bot_api, 400, "Bad Request: chat not found")
    error = sent_error()
    assert error.permanent
    assert error.message == (
        "Telegram answered HTTP 400: Bad Request: chat not found "
        "(check the chat ID, and that the bot was added to the chat)"
    )


def test_a_bot_the_user_blocked_is_permanent(bot_api):
    fail(bot_api, 403, "Forbidden: bot was blocked by the user")
    error = sent_error()
    assert error.permanent
    assert "unblock it" in error.message


def test_a_revoked_token_is_permanent_and_not_shown(bot_api):
    fail(bot_api, 401, "Unauthorized")
    error = sent_error()
    assert error.permanent
    assert "copy it again from @BotFather" in error.message


def test_a_token_the_server_echoes_back_is_redacted(bot_api):
    bot_api.expect_request(PATH, method="POST").respond_with_data(
        f"404 page not found: POST {PATH}", status=404
    )
    error = sent_error()
    assert error.permanent
    assert "[secret" in error.message


def test_a_group_that_became_a_supergroup_names_its_new_chat_id(bot_api):
    fail(
        bot_api,
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to_chat_id=-1009876543210,
    )
    error = sent_error()
    assert error.permanent
    assert "set the chat ID to -1009876543210" in error.message


def test_a_server_error_is_transient(bot_api):
    bot_api.expect_request(PATH, method="POST").respond_with_data("Bad Gateway", status=502)
    error = sent_error()
    assert not error.permanent
    assert error.message == "Telegram answered HTTP 502: Bad Gateway"


def test_a_refused_connection_is_transient_and_hides_the_token(settings, refused_url):
    settings.UPTIME_TELEGRAM_API_URL = refused_url
    error = sent_error()
    assert not error.permanent
    assert error.message == "Could not reach Telegram: Connection refused"


def test_the_address_guard_refuses_a_private_api_address_when_private_targets_are_off(
    bot_api, settings
):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    error = sent_error()
    assert error.permanent
    assert "non-public address" in error.message
    assert bot_api.log == []


def test_clean_keeps_a_valid_token_and_chat(settings):
    assert telegram.clean({"botToken": f" {TOKEN} ", "chatId": "@uptime_alerts"}) == {
        "botToken": TOKEN,
        "chatId": "@uptime_alerts",
    }


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"botToken": "", "chatId": "1"}, "botToken"),
        ({"botToken": "123:abc/../../other", "chatId": "1"}, "botToken"),
        ({"botToken": TOKEN + "?x=1", "chatId": "1"}, "botToken"),
        ({"botToken": TOKEN, "chatId": ""}, "chatId"),
        ({"botToken": TOKEN, "chatId": "12 34"}, "chatId"),
    ],
)
def test_clean_names_the_field_that_is_wrong(config, field):
    with pytest.raises(ValidationError) as caught:
        telegram.clean(config)
    assert list(caught.value.message_dict) == [field]


def test_the_destination_names_the_bot_and_chat_but_not_the_token():
    assert telegram.destination(CONFIG) == "telegram:123456789:-1001234567890"
