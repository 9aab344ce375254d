"""Uptime's own network failing: one connectivity message instead of a flood.

Checks go in through monitor.recording.record_results, as a worker records
them; alerts go out through notifications.delivery to a local Slack stand-in
(a Slack channel in every project: the slack_server fixture). Failures are
recorded a minute in the past, so their settle period is over and
deliver_transition decides at once (the hold itself has its own test).

Connectivity messages are Notifications keyed incident<id>-opened / -ended,
one per enabled default channel; routing queues them on commit, which a test's
transaction never reaches, so deliver_owed() sends them as a worker would.
"""

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from monitor.connectivity import Reach, incident_open_or_join, measure_reach
from monitor.models import ConnectivityIncident, Transition
from monitor.probe import ErrorKind, ProbeResult
from monitor.recording import record_results
from notifications.delivery import WITHHELD, deliver_transition
from notifications.messages import format_utc
from notifications.models import Channel, Notification, NotificationAttempt, WebhookPacing
from notifications.tasks import sweep_pending_notifications
from sites.models import Site
from teams.models import Project
from tests.factories import alice_project
from tests.notifications.helpers import deliver, deliver_owed, texts

Status = Transition.NotificationStatus
pytestmark = pytest.mark.django_db


@pytest.fixture
def slack(slack_server):
    slack_server.expect_request("/hook", method="POST").respond_with_data("ok")
    return slack_server


def make_sites(count: int) -> list[Site]:
    # Created directly: site_create() would validate (and resolve) the host.
    return [
        Site.objects.create(
            project=alice_project(), url=f"https://site{n}.invalid/", status=Site.Status.UP
        )
        for n in range(count)
    ]


def refused(site: Site, at) -> ProbeResult:
    return ProbeResult(
        up=False,
        checked_at=at,
        response_ms=1,
        error_kind=ErrorKind.CONNECT,
        error_message="Connection refused",
        site_id=site.id,
    )


def http_500(site: Site, at) -> ProbeResult:
    return ProbeResult(
        up=False,
        checked_at=at,
        status_code=500,
        response_ms=4,
        error_kind=ErrorKind.HTTP_STATUS,
        error_message="HTTP 500 Internal Server Error",
        site_id=site.id,
    )


def ok(site: Site, at) -> ProbeResult:
    return ProbeResult(up=True, checked_at=at, status_code=200, response_ms=3, site_id=site.id)


def record_batch(make, sites, *, start, spacing=timedelta(milliseconds=100)) -> list[Transition]:
    """Record one result per site, a little apart, as a batch of probes would arrive."""
    return record_results([make(site, start + n * spacing) for n, site in enumerate(sites)])


def deliver_all(transitions) -> list[str]:
    """Route each transition and send its notification (one channel: the Slack stand-in)."""
    return [deliver(t.id) for t in transitions]


def incident_messages(incident) -> list[Notification]:
    return list(Notification.objects.filter(key__startswith=f"incident{incident.id}-"))


def free(notifications, settings) -> None:
    """As if the lease held for a planned retry had run out: the next sweep takes it up."""
    settings.UPTIME_SWEEP_GRACE = 0
    Notification.objects.filter(id__in=[n.id for n in notifications]).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )


def alert_for(text: str, site_url: str, reason: str, at) -> bool:
    """A site's own down alert: names the site, says down, gives the reason and the time."""
    return (
        site_url in text
        and "is down" in text
        and f"Reason: {reason}" in text
        and format_utc(at) in text
    )


def statuses(transitions) -> set[str]:
    return set(
        Transition.objects.filter(id__in=[t.id for t in transitions]).values_list(
            "notification_status", flat=True
        )
    )


@pytest.fixture
def a_minute_ago():
    return timezone.now() - timedelta(minutes=1)


def test_a_storm_of_refused_connections_sends_one_connectivity_message_and_no_site_alerts(
    slack, a_minute_ago
):
    sites = make_sites(12)
    downs = record_batch(refused, sites, start=a_minute_ago)
    assert len(downs) == 12

    assert deliver_all(downs) == [WITHHELD] * 12
    assert deliver_owed() == ["delivered"]

    [message] = texts(slack)
    assert "Uptime cannot reach 12 of 12 sites at once" in message
    assert "own network" in message
    assert statuses(downs) == {Status.WITHHELD}
    incident = ConnectivityIncident.objects.get()
    assert (incident.is_open, incident.opened_notice) == (True, Status.SENT)  # routed
    assert incident.started_at == downs[0].created_at
    [opened] = incident_messages(incident)
    assert (opened.key, opened.event, opened.status) == (
        f"incident{incident.id}-opened",
        "down",
        "sent",
    )


def test_a_429_on_the_connectivity_message_pauses_the_webhook_and_keeps_it_owed(
    slack_server, a_minute_ago
):
    slack_server.expect_request("/hook", method="POST").respond_with_data(
        "rate_limited", status=429, headers={"Retry-After": "30"}
    )
    downs = record_batch(refused, make_sites(12), start=a_minute_ago)

    assert deliver_all(downs) == [WITHHELD] * 12
    assert deliver_owed() == ["retrying"]

    [opened] = incident_messages(ConnectivityIncident.objects.get())
    assert opened.status == Notification.Status.PENDING  # owed: its retry or a later sweep
    assert opened.lease_until >= timezone.now() + timedelta(seconds=28)
    assert opened.tries.get().status_code == 429
    pause = WebhookPacing.objects.get().held_until
    assert pause >= timezone.now() + timedelta(seconds=28)


def test_a_down_alert_for_a_network_failure_is_held_for_the_settle_period(slack, settings):
    settings.UPTIME_OUTAGE_SETTLE = 15
    sites = make_sites(12)
    [down] = record_results([refused(sites[0], timezone.now())])

    delivery = deliver_transition(down.id)

    assert delivery.outcome == NotificationAttempt.Outcome.RETRYING
    assert 13 <= delivery.retry_in <= 15.1
    down.refresh_from_db()
    assert down.notification_status == Status.PENDING
    assert down.notify_lease_until > timezone.now() + timedelta(seconds=13)
    assert slack.log == []
    # The planned retry carries the lease token, as a failed post's would.
    assert deliver_transition(down.id).outcome == "not_claimed"


def test_a_single_site_down_among_many_up_is_alerted_as_usual(slack, a_minute_ago):
    sites = make_sites(12)
    record_batch(ok, sites[1:], start=a_minute_ago + timedelta(milliseconds=50))
    [down] = record_results([refused(sites[0], a_minute_ago)])

    assert deliver_all([down]) == ["delivered"]

    [message] = texts(slack)
    assert alert_for(message, "https://site0.invalid/", "Connection refused", down.created_at)
    assert not ConnectivityIncident.objects.exists()


def test_http_errors_on_many_sites_prove_the_network_works_and_are_alerted_per_site(
    slack, settings
):
    settings.UPTIME_OUTAGE_MIN_SITES = 3
    sites = make_sites(4)
    # Fresh failures, yet nothing is held: an HTTP answer needs a working network.
    downs = record_batch(http_500, sites, start=timezone.now())

    assert deliver_all(downs) == ["delivered"] * 4

    received = texts(slack)
    assert len(received) == 4
    for n, down in enumerate(downs):
        [text] = [t for t in received if f"https://site{n}.invalid/" in t]
        assert alert_for(
            text, f"https://site{n}.invalid/", "HTTP 500 Internal Server Error", down.created_at
        )
        assert "(HTTP 500)" in text
    assert not ConnectivityIncident.objects.exists()


def test_fewer_failing_sites_than_the_minimum_are_alerted_per_site(slack, a_minute_ago):
    sites = make_sites(12)  # enough sites for the rule, but only 4 fail (100 % of those checked)
    downs = record_batch(refused, sites[:4], start=a_minute_ago)

    assert deliver_all(downs) == ["delivered"] * 4

    assert len(texts(slack)) == 4
    assert all("is down" in text for text in texts(slack))
    assert not ConnectivityIncident.objects.exists()


def test_with_fewer_sites_than_the_minimum_nothing_is_held(slack):
    sites = make_sites(3)
    [down] = record_results([refused(sites[0], timezone.now())])
    assert deliver(down.id) == "delivered"


def test_a_settle_period_of_zero_turns_the_rule_off(slack, settings, a_minute_ago):
    settings.UPTIME_OUTAGE_SETTLE = 0
    settings.UPTIME_OUTAGE_MIN_SITES = 3
    downs = record_batch(refused, make_sites(4), start=a_minute_ago)
    assert deliver_all(downs) == ["delivered"] * 4
    assert not ConnectivityIncident.objects.exists()


def test_recovery_sends_one_back_message_and_releases_only_the_sites_still_down(
    slack, a_minute_ago
):
    sites = make_sites(12)
    downs = record_batch(refused, sites, start=a_minute_ago)
    deliver_all(downs)
    assert deliver_owed() == ["delivered"]
    incident = ConnectivityIncident.objects.get()

    # The network is back: nine sites answer, three are really down.
    back, still_down = sites[:9], sites[9:]
    ups = record_batch(ok, back, start=timezone.now() - timedelta(seconds=2))
    record_batch(refused, still_down, start=timezone.now() - timedelta(seconds=1))
    assert deliver_all(ups) == [WITHHELD] * 9  # no "back up" for a "down" never announced

    sweep_pending_notifications()  # most sites reachable: recovering
    assert deliver_owed() == []
    incident.refresh_from_db()
    assert incident.is_open and incident.recovered_at is not None
    assert len(texts(slack)) == 1  # the still-down sites were checked before recovery was seen

    record_batch(refused, still_down, start=timezone.now() + timedelta(milliseconds=10))
    sweep_pending_notifications()  # every withheld site checked since: ended
    # The "back" message first, then the three released alerts (routed by the sweep).
    assert deliver_owed() == ["delivered"] * 4

    incident.refresh_from_db()
    assert (incident.is_open, incident.sites_still_down, incident.ended_notice) == (
        False,
        3,
        Status.SENT,
    )
    opened, back_message, *alerts = texts(slack)
    assert "cannot reach" in opened
    assert "Uptime's network is back" in back_message
    assert "3 sites are still down" in back_message
    assert len(alerts) == 3
    for n in (9, 10, 11):
        [text] = [t for t in alerts if f"https://site{n}.invalid/" in t]
        assert alert_for(
            text, f"https://site{n}.invalid/", "Connection refused", downs[n].created_at
        )
    assert statuses(downs[9:]) == {Status.SENT}
    assert statuses(downs[:9]) == statuses(ups) == {Status.WITHHELD}

    sweep_pending_notifications()  # nothing is sent twice
    assert deliver_owed() == []
    assert len(texts(slack)) == 5


def test_a_site_that_recovers_before_the_incident_ends_gets_neither_alert(slack, a_minute_ago):
    sites = make_sites(12)
    downs = record_batch(refused, sites, start=a_minute_ago)
    deliver_all(downs)
    ups = record_batch(ok, sites, start=timezone.now() - timedelta(seconds=2))
    assert deliver_all(ups) == [WITHHELD] * 12

    sweep_pending_notifications()
    sweep_pending_notifications()
    assert deliver_owed() == ["delivered"] * 2

    opened, back = texts(slack)
    assert "Uptime's network is back" in back
    assert "Every site it could not reach is up again." in back
    assert ConnectivityIncident.objects.get().sites_still_down == 0


def test_the_incident_stays_open_while_most_sites_are_still_unreachable(slack, a_minute_ago):
    sites = make_sites(12)
    deliver_all(record_batch(refused, sites, start=a_minute_ago))
    record_batch(refused, sites, start=timezone.now() - timedelta(seconds=2))

    sweep_pending_notifications()
    sweep_pending_notifications()
    deliver_owed()

    incident = ConnectivityIncident.objects.get()
    assert incident.is_open and incident.recovered_at is None
    assert len(texts(slack)) == 1


def test_during_an_incident_a_new_network_failure_is_withheld_without_waiting(slack, a_minute_ago):
    sites = make_sites(13)
    deliver_all(record_batch(refused, sites[:12], start=a_minute_ago))
    deliver_owed()
    [late] = record_results([refused(sites[12], timezone.now())])
    assert deliver_transition(late.id).outcome == WITHHELD
    assert deliver_owed() == []
    assert len(texts(slack)) == 1


def test_an_http_error_during_an_incident_is_still_alerted(slack, a_minute_ago):
    sites = make_sites(13)
    deliver_all(record_batch(refused, sites[:12], start=a_minute_ago))
    deliver_owed()
    [down] = record_results([http_500(sites[12], timezone.now())])
    assert deliver(down.id) == "delivered"
    assert "(HTTP 500)" in texts(slack)[1]


def test_a_back_up_alert_waits_while_its_down_alert_is_held(slack):
    sites = make_sites(12)
    [down] = record_results([refused(sites[0], timezone.now() - timedelta(seconds=3))])
    [up] = record_results([ok(sites[0], timezone.now())])

    delivery = deliver_transition(up.id)

    assert delivery.outcome == NotificationAttempt.Outcome.RETRYING
    assert 12 <= delivery.retry_in <= 14.1
    assert slack.log == []


def test_the_connectivity_message_is_sent_by_the_sweeper_when_slack_failed(
    slack_server, a_minute_ago, settings
):
    slack_server.expect_ordered_request("/hook").respond_with_data("busy", status=503)
    slack_server.expect_request("/hook").respond_with_data("ok")
    downs = record_batch(refused, make_sites(12), start=a_minute_ago)
    assert deliver_transition(downs[0].id).outcome == WITHHELD
    assert deliver_owed() == ["retrying"]
    [opened] = incident_messages(ConnectivityIncident.objects.get())
    free([opened], settings)

    sweep_pending_notifications()

    opened.refresh_from_db()
    assert opened.status == Notification.Status.SENT
    assert statuses(downs) == {Status.WITHHELD}  # the sweep routed the other eleven too
    assert deliver_owed() == []
    failed, sent = texts(slack_server)
    assert failed == sent and "cannot reach" in sent


def test_only_one_incident_can_be_open(db, a_minute_ago):
    reach = Reach(checked=20, unreachable=20)
    first = incident_open_or_join(started_at=a_minute_ago, reach=reach)
    again = incident_open_or_join(started_at=timezone.now(), reach=reach)
    assert again.id == first.id
    with pytest.raises(IntegrityError):
        ConnectivityIncident.objects.create(started_at=a_minute_ago, **vars_of(reach))


def vars_of(reach: Reach) -> dict:
    return {"sites_unreachable": reach.unreachable, "sites_checked": reach.checked}


def test_reach_counts_distinct_sites_and_only_network_level_failures(db, a_minute_ago):
    sites = make_sites(5)
    record_results(
        [
            refused(sites[0], a_minute_ago),
            refused(sites[0], a_minute_ago + timedelta(seconds=1)),
            http_500(sites[1], a_minute_ago),
            ok(sites[2], a_minute_ago),
            refused(sites[3], a_minute_ago - timedelta(seconds=30)),  # outside the window
        ]
    )
    reach = measure_reach(a_minute_ago, a_minute_ago + timedelta(seconds=5))
    assert reach == Reach(checked=3, unreachable=1)


def test_the_back_message_never_overtakes_the_cannot_reach_message(
    slack_server, a_minute_ago, settings
):
    """The "cannot reach" message failed and waits for its retry when the incident ends:
    the "back" message waits for it, then each goes out once, in order."""
    slack_server.expect_ordered_request("/hook").respond_with_data("busy", status=503)
    slack_server.expect_request("/hook").respond_with_data("ok")
    sites = make_sites(12)
    deliver_all(record_batch(refused, sites, start=a_minute_ago))
    assert deliver_owed() == ["retrying"]
    deliver_all(record_batch(ok, sites, start=timezone.now() - timedelta(seconds=2)))
    sweep_pending_notifications()
    sweep_pending_notifications()
    incident = ConnectivityIncident.objects.get()
    assert incident.ended_notice == Status.SENT  # routed
    opened, ended = sorted(incident_messages(incident), key=lambda n: n.key, reverse=True)
    assert (opened.key, ended.key) == (
        f"incident{incident.id}-opened",
        f"incident{incident.id}-ended",
    )

    # "cannot reach" is leased for its planned retry; the "back" message waits for it.
    assert deliver_owed() == ["not_claimed", "retrying"]
    assert "Waits for the incident's first message" in ended.tries.get().error
    assert len(slack_server.log) == 1

    free([opened, ended], settings)
    sweep_pending_notifications()  # re-enqueues both, oldest ("cannot reach") first
    assert [n.status for n in incident_messages(incident)] == ["sent", "sent"]
    failed, cannot_reach, back = texts(slack_server)
    assert "cannot reach" in failed and "cannot reach" in cannot_reach
    assert "network is back" in back
    sweep_pending_notifications()
    assert len(slack_server.log) == 3


def test_connectivity_messages_go_once_to_every_enabled_default_channel_that_wants_down(
    slack_server, a_minute_ago
):
    """Uptime's own network concerns every project: each project's default channel hears it
    once; a disabled channel, a monitor-only channel and one not wanting "down" do not."""
    ours = alice_project()  # first: alice's first project would adopt an orphan one
    other = Project.objects.create(name="Other team")  # gets a Slack channel (slack_server)
    quiet = Project.objects.create(name="Quiet team")
    Channel.objects.filter(project=quiet).update(events=["up"])
    off = Project.objects.create(name="Disabled team")
    Channel.objects.filter(project=off).update(enabled=False, disabled_reason="HTTP 404")
    own = Project.objects.create(name="Own channels")
    Channel.objects.filter(project=own).update(is_default=False)
    slack_server.expect_request("/hook").respond_with_data("ok")

    deliver_all(record_batch(refused, make_sites(12), start=a_minute_ago))
    assert deliver_owed() == ["delivered"] * 2

    incident = ConnectivityIncident.objects.get()
    projects = {n.channel.project_id for n in incident_messages(incident)}
    assert projects == {ours.id, other.id}
    assert len(texts(slack_server)) == 2
    assert all("cannot reach 12 of 12 sites" in text for text in texts(slack_server))
    sweep_pending_notifications()
    assert deliver_owed() == []
    assert len(slack_server.log) == 2
