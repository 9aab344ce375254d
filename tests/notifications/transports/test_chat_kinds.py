"""The six webhook-style kinds keep the registry's module contract (notifications.transports)."""

import pytest

from notifications import messages, transports
from notifications.transports import base

CHAT_KINDS = ("slack", "discord", "teams", "googlechat", "mattermost", "webhook")


@pytest.mark.parametrize("kind", CHAT_KINDS)
def test_each_kind_is_found_by_name_and_has_the_whole_contract(kind):
    module = transports.get(kind)
    assert isinstance(module.LABEL, str) and module.LABEL
    assert all(isinstance(spec, base.Field) for spec in module.FIELDS.values())
    assert module.FIELDS["url"].required and "url" in transports.secret_fields(kind)
    assert isinstance(module.PACE, float | int) and module.PACE >= 0
    config = module.clean({"url": "https://hooks.example/abc"})
    assert module.destination(config) == "https://hooks.example/abc"
    assert callable(module.send)


@pytest.mark.parametrize("kind", CHAT_KINDS)
@pytest.mark.parametrize("event", list(messages.SEVERITY))
def test_each_kind_formats_every_event_into_json(kind, event):
    module = transports.get(kind)
    message = messages.sample(event, ack_link="http://127.0.0.1:8000/ack/x")
    payload = module.payload(message)
    text = str(payload)
    # The monitor link and the ack link are in every kind's message.
    assert "http://127.0.0.1:8000/site/42" in text
    assert "http://127.0.0.1:8000/ack/x" in text
