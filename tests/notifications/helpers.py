"""Helpers for scripting and reading the stand-ins, and for running a delivery's two stages.

A transition is delivered in two stages, as workers run them: send_notification
routes it (deliver_transition: one Notification per channel), then
deliver_notification sends each Notification. Routing queues the second stage
on commit; a test inside a transaction (the `db` fixture) never commits, so
these helpers run the second stage themselves, as a worker would.
"""

import json

from celery.exceptions import Retry

from notifications import delivery, pacing, tasks
from notifications.models import Notification, WebhookPacing


def answer(server, status=200, body="ok", headers=None, path="/hook") -> None:
    """Queue one answer from a stand-in, in order."""
    server.expect_ordered_request(path, method="POST").respond_with_data(
        body, status=status, headers=headers or {}
    )


def bodies(server) -> list[dict]:
    """The JSON body of every request a stand-in received."""
    return [json.loads(request.get_data()) for request, _ in server.log]


def texts(server) -> list[str]:
    """The `text` of every message the Slack stand-in received."""
    return [body["text"] for body in bodies(server)]


def notifications_of(transition_id: int) -> list[Notification]:
    """The transition's own notifications (one per channel), oldest first."""
    return list(
        Notification.objects.filter(transition_id=transition_id, key=f"t{transition_id}")
        .select_related("channel")
        .order_by("id")
    )


def deliver(transition_id: int) -> str:
    """Route a transition and make one attempt at each of its notifications.

    Returns the routing's outcome when it routed nothing (muted, withheld,
    held, skipped, not claimed); else the outcome of the one notification's
    attempt, or, for several channels, the outcomes joined by "+" in the
    channels' order (use deliver_each to tell them apart).
    """
    routed = delivery.deliver_transition(transition_id)
    if routed.outcome != delivery.ROUTED:
        return routed.outcome
    outcomes = deliver_each_pending(transition_id)
    return "+".join(outcomes.values())


def deliver_each_pending(transition_id: int) -> dict[str, str]:
    """One attempt at each pending notification of a routed transition, by channel name."""
    return {
        n.channel.name: delivery.deliver_notification(n.id).outcome
        for n in notifications_of(transition_id)
        if n.status == Notification.Status.PENDING
    }


def deliver_owed() -> list[str]:
    """One attempt at every pending notification (connectivity messages too), oldest first."""
    owed = Notification.objects.filter(status=Notification.Status.PENDING).order_by("id")
    return [
        delivery.deliver_notification(row_id).outcome
        for row_id in owed.values_list("id", flat=True)
    ]


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


def run_delivery(transition_id: int) -> tuple[str, list[float]]:
    """A one-channel transition's whole delivery through the tasks, retries included.

    send_notification (with its planned retries) routes it; then
    deliver_notification runs for its notification with its own retries.
    Returns that task's result and countdowns, or the routing's when it
    routed nothing.
    """
    results = run_deliveries(transition_id)
    if isinstance(results, tuple):
        return results
    assert len(results) == 1, results
    return next(iter(results.values()))


def run_deliveries(transition_id: int):
    """Every channel's delivery of a transition through the tasks: {channel name: (result,
    countdowns)}, or the routing task's (result, countdowns) when it routed nothing."""
    routed, countdowns = run_with_retries(tasks.send_notification, transition_id)
    if routed != delivery.ROUTED:
        return routed, countdowns
    return {
        n.channel.name: run_with_retries(tasks.deliver_notification, n.id)
        for n in notifications_of(transition_id)
        if n.status == Notification.Status.PENDING
    }
