"""Helpers for scripting and reading the Slack stand-in (the slack_server fixture)."""

import json

from celery.exceptions import Retry

from notifications import pacing
from notifications.models import WebhookPacing


def answer(server, status=200, body="ok", headers=None) -> None:
    """Queue one answer from the Slack stand-in, in order."""
    server.expect_ordered_request("/hook", method="POST").respond_with_data(
        body, status=status, headers=headers or {}
    )


def texts(server) -> list[str]:
    """The `text` of every message the Slack stand-in received."""
    return [json.loads(request.get_data())["text"] for request, _ in server.log]


def run_with_retries(task, *args, **kwargs) -> tuple[object, list[float]]:
    """Run a task eagerly, then each retry it plans; return its result and the countdowns.

    With eager propagation (tests/settings.py) self.retry() raises Retry to
    the caller instead of queueing; running Retry.sig is what a worker would
    do with the queued retry, only without the wait.
    """
    countdowns = []
    signature = task.s(*args, **kwargs)
    while True:
        try:
            return signature.apply().get(), countdowns
        except Retry as retry:
            countdowns.append(retry.when)
            signature = retry.sig
            # The retry's wait is skipped, so a pause it was waiting out is over.
            WebhookPacing.objects.update(next_send_at=pacing.NEVER, held_until=None)
