"""Recording results: the check row, the site's state, and transitions."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from monitor import pgindex
from monitor.checking import check_sites
from monitor.models import Check, Location, Transition
from monitor.probe import ErrorKind, ProbeResult
from monitor.recording import record_results
from monitor.signals import site_status_changed
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project


def result_for(site, *, up, at=None, **extra) -> ProbeResult:
    fields = {"status_code": 200 if up else 503, "response_ms": 12}
    if not up:
        fields |= {"error_kind": ErrorKind.HTTP_STATUS, "error_message": "HTTP 503"}
    return ProbeResult(up=up, checked_at=at or timezone.now(), site_id=site.id, **(fields | extra))


@pytest.fixture
def site(db):
    return site_create(project=alice_project(), url="http://127.0.0.1:9/")


@pytest.fixture
def announced():
    seen = []

    def receiver(sender, transition, site, **kwargs):
        seen.append((site.id, transition.from_status, transition.to_status))

    site_status_changed.connect(receiver)
    yield seen
    site_status_changed.disconnect(receiver)


def test_a_first_success_sets_up_without_a_transition(site):
    assert record_results([result_for(site, up=True)]) == []
    site.refresh_from_db()
    assert site.status == Site.Status.UP
    assert Check.objects.filter(site=site, up=True).count() == 1


def test_a_first_failure_is_a_transition_to_down(site):
    [transition] = record_results([result_for(site, up=False)])
    assert (transition.from_status, transition.to_status) == ("unknown", "down")
    assert transition.check_result.up is False
    site.refresh_from_db()
    assert site.status == Site.Status.DOWN
    assert site.last_error_kind == ErrorKind.HTTP_STATUS
    assert site.last_status_code == 503


def test_up_then_down_then_up_makes_two_transitions_and_repeats_make_none(site):
    start = timezone.now()
    outcomes = [True, True, False, False, False, True, True]
    for step, up in enumerate(outcomes):
        record_results([result_for(site, up=up, at=start + timedelta(seconds=step))])
    pairs = list(Transition.objects.order_by("created_at").values_list("from_status", "to_status"))
    assert pairs == [("up", "down"), ("down", "up")]
    assert Check.objects.filter(site=site).count() == len(outcomes)


def test_the_site_state_keeps_the_time_of_the_last_change(site):
    t0 = timezone.now()
    record_results([result_for(site, up=True, at=t0)])
    record_results([result_for(site, up=False, at=t0 + timedelta(seconds=60))])
    record_results([result_for(site, up=False, at=t0 + timedelta(seconds=120))])
    site.refresh_from_db()
    assert site.status_changed_at == t0 + timedelta(seconds=60)
    assert site.last_checked_at == t0 + timedelta(seconds=120)


def test_a_result_older_than_the_last_one_is_stored_but_does_not_move_the_state(site):
    now = timezone.now()
    record_results([result_for(site, up=True, at=now)])
    transitions = record_results([result_for(site, up=False, at=now - timedelta(seconds=5))])
    site.refresh_from_db()
    assert transitions == []
    assert site.status == Site.Status.UP and site.last_checked_at == now
    assert Check.objects.filter(site=site).count() == 2


def test_a_batch_records_every_site_in_one_go(db):
    sites = [site_create(project=alice_project(), url=f"http://127.0.0.1:9/{n}") for n in range(5)]
    results = [result_for(s, up=(n % 2 == 0)) for n, s in enumerate(sites)]
    transitions = record_results(results)
    assert Check.objects.count() == 5
    assert sorted(t.site_id for t in transitions) == [sites[1].id, sites[3].id]


def test_a_result_for_a_deleted_site_is_dropped(site):
    result = result_for(site, up=False)
    site.delete()
    assert record_results([result]) == []
    assert Check.objects.count() == 0


def test_the_signal_is_sent_only_after_the_commit(
    site, announced, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        record_results([result_for(site, up=False)])
        assert announced == []  # not yet: the transaction has not committed
    assert announced == [(site.id, "unknown", "down")]


def test_a_rolled_back_transition_is_never_announced(
    site, announced, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                record_results([result_for(site, up=False)])
                raise RuntimeError("the surrounding transaction fails")
    assert announced == []
    assert Transition.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_it_records_one_transition_when_workers_see_the_same_change_at_once():
    """Several threads (separate connections) record the same change together,
    round after round; each round must yield exactly one transition."""
    site = site_create(project=alice_project(), url="http://127.0.0.1:9/race")
    threads_per_round, rounds = 4, 6
    errors = []
    for round_no in range(rounds):
        up = round_no % 2 == 1  # down, up, down, ...
        barrier = threading.Barrier(threads_per_round)

        def worker(up=up, barrier=barrier):
            try:
                barrier.wait()
                record_results([result_for(site, up=up)])
            except Exception as exc:  # surfaced below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=worker) for _ in range(threads_per_round)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert Check.objects.count() == threads_per_round * rounds
    assert Transition.objects.count() == rounds


def test_a_transition_keeps_the_facts_of_the_check_that_caused_it(site):
    at = timezone.now()
    record_results([result_for(site, up=False, at=at, response_ms=480)])

    transition = Transition.objects.get()  # read back: the facts are columns, not a join
    assert (transition.checked_at, transition.status_code, transition.response_ms) == (
        at,
        503,
        480,
    )
    assert transition.check_result.reason == "HTTP 503"


def test_a_sites_latest_checks_merge_its_locations_newest_first(site):
    frankfurt = Location.objects.create(name="fra")
    t0 = timezone.now()
    Check.objects.bulk_create(
        [
            Check(site=site, checked_at=t0, up=True),
            Check(site=site, checked_at=t0 + timedelta(seconds=2), up=True),
            Check(site=site, location=frankfurt, checked_at=t0, up=False),  # the same instant
            Check(site=site, location=frankfurt, checked_at=t0 + timedelta(seconds=1), up=True),
        ]
    )

    latest = Check.latest_of(site.id, 3)

    assert [(c.checked_at - t0).seconds for c in latest] == [2, 1, 0]
    assert latest[1].location_id == frankfurt.id


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_the_site_rows_are_locked_and_read_for_probing_by_index(site, httpserver):
    # monitor.pgindex: the statements on the site rows a batch reads every
    # second are sent with sequential and bitmap scans off.
    httpserver.expect_request("/").respond_with_data("ok")
    Site.objects.filter(pk=site.pk).update(url=httpserver.url_for("/"))
    sent = []

    def spy(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        [result] = check_sites([site.id])
    assert result.up
    by_index = [sql for sql in sent if sql.startswith(pgindex._BY_INDEX)]
    assert any('"sites_site"."url"' in sql for sql in by_index)  # the targets
    assert any("FOR UPDATE" in sql for sql in by_index)  # the recorder's lock
