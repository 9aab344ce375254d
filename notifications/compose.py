"""The Message a notification carries: built from the rows, once per delivery."""

from django.conf import settings
from django.urls import reverse

from monitor.models import Transition
from notifications import messages
from notifications.models import Notification
from notifications.routing import previous_down
from sites.models import Site
from sites.selectors import dependents_count

VERBS = {
    messages.DOWN: "is down",
    messages.UP: "is back up",
    messages.DEGRADED: "is degraded",
    messages.CERT_EXPIRING: "has a certificate that expires soon",
    messages.REMINDER: "is still down",
    messages.ESCALATION: "is still down and nobody has acknowledged it",
}


class Cache:
    """What several messages of one batch share: each site's dependents, each outage's
    start, each change's message (the same for every channel), the link's pattern."""

    def __init__(self) -> None:
        self.dependents: dict[int, int] = {}
        self.previous_down: dict[int, Transition | None] = {}
        self.messages: dict[tuple[int, str], messages.Message] = {}
        self.link_parts: tuple[str, str] | None = None

    def message(self, transition: Transition, event: str) -> messages.Message:
        """The message announcing `transition` (not a reminder or an escalation)."""
        key = (transition.pk, event)
        if key not in self.messages:
            self.messages[key] = transition_message(transition, event, cache=self)
        return self.messages[key]

    def link_of(self, site: Site) -> str:
        """site_link(), reversing the URL once per batch: reverse() costs more than a send."""
        if self.link_parts is None:
            marker = 987654321012345
            before, _, after = site_link_by_id(marker).partition(str(marker))
            self.link_parts = (before, after)
        before, after = self.link_parts
        return f"{before}{site.pk}{after}"

    def prime(self, sites: list[Site]) -> None:
        """One query for the batch: most monitors have no dependents at all."""
        ids = {site.pk for site in sites} - set(self.dependents)
        parents = set(
            Site.objects.filter(depends_on_id__in=ids).values_list("depends_on_id", flat=True)
        )
        for site_id in ids - parents:
            self.dependents[site_id] = 0

    def dependents_of(self, site: Site) -> int:
        if site.pk not in self.dependents:
            self.dependents[site.pk] = dependents_count(site)
        return self.dependents[site.pk]

    def down_before(self, transition: Transition) -> Transition | None:
        if transition.pk not in self.previous_down:
            self.previous_down[transition.pk] = previous_down(transition)
        return self.previous_down[transition.pk]


def message_for(notification: Notification, *, cache: Cache | None = None) -> messages.Message:
    cache = cache or Cache()
    if notification.transition_id is None:
        return _context_message(notification)
    if notification.event in (messages.REMINDER, messages.ESCALATION):
        return transition_message(
            notification.transition, notification.event, cache=cache, at=notification.created_at
        )
    return cache.message(notification.transition, notification.event)


def transition_message(
    transition: Transition, event: str, *, cache: Cache, at=None
) -> messages.Message:
    """What `event` about `transition` says; `at`: when a reminder or an escalation was made."""
    site = transition.site
    name = site_label(site)
    fields = {
        "event": event,
        "title": f"{name} {VERBS.get(event, 'changed')}",
        "site_name": name,
        "target": site.url or f"{site.get_kind_display().lower()} monitor {site.pk}",
        "site_id": site.pk,
        "happened_at": transition.created_at,
        "link": cache.link_of(site),
        "dedup_key": f"uptime-{site.pk}-incident-{_incident(transition, cache).pk}",
    }
    check = transition.check_result
    if event != messages.UP and check is not None:
        fields["reason"] = check.reason or ""
        fields["status_code"] = check.status_code
    if event == messages.DOWN:
        fields["dependents"] = cache.dependents_of(site)
    if event in (messages.REMINDER, messages.ESCALATION):
        fields["down_since"] = transition.created_at
        fields["happened_at"] = at
        if check is not None:
            fields["reason"] = check.reason or ""
    if transition.locations and fields.get("reason") is not None:
        # Checked from several places: say which saw it fail.
        where = transition.locations.replace(",", ", ")
        fields["reason"] = f"{fields['reason']} (seen from {where})"
    if event in (messages.DOWN, messages.REMINDER, messages.ESCALATION):
        fields["ack_link"] = _ack_link(transition)
    if event == messages.UP or (
        event in (messages.DEGRADED, messages.CERT_EXPIRING)
        and transition.from_status == Site.Status.DOWN
    ):
        down = cache.down_before(transition)
        if down is not None:
            fields["down_since"] = down.created_at
            fields["downtime"] = transition.created_at - down.created_at
            acked = getattr(down, "acknowledgement", None) if _has_ack(down) else None
            if acked is not None:
                fields["acknowledged_by"] = acked.by_name
    return messages.Message(**fields)


def site_label(site: Site) -> str:
    return site.name or site.url or f"{site.get_kind_display()} monitor {site.pk}"


def site_link(site: Site) -> str:
    return site_link_by_id(site.pk)


def site_link_by_id(site_id: int) -> str:
    return settings.UPTIME_BASE_URL.rstrip("/") + reverse("site_detail", args=[site_id])


def _incident(transition: Transition, cache: Cache) -> Transition:
    """The down transition an event belongs to: itself, or the outage a recovery ends."""
    if transition.to_status == Site.Status.DOWN:
        return transition
    return cache.down_before(transition) or transition


def _has_ack(transition: Transition) -> bool:
    from notifications.models import Acknowledgement

    return Acknowledgement.objects.filter(transition=transition).exists()


def _ack_link(transition: Transition) -> str:
    from notifications import acks  # acks builds links to views that import delivery

    return acks.ack_link(transition)


def _context_message(notification: Notification) -> messages.Message:
    context = notification.context
    return messages.Message(
        event=notification.event,
        title=context.get("title", ""),
        details=tuple(context.get("lines", ())),
        happened_at=notification.created_at,
    )
