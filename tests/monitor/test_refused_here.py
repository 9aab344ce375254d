"""A target refused by this process's own address guard (UPTIME_ALLOW_PRIVATE_TARGETS
off here, on for the services) is not a site failure: nothing is recorded, no
state changes, no transition, and the engine gives its claim back."""

import logging
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from monitor.checking import check_sites
from monitor.dispatch import claim_due_sites
from monitor.models import Check, Transition
from monitor.tasks import run_checks
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project


@pytest.fixture
def loopback_site(db, httpserver):
    """A site on a live local server, added while private targets are allowed."""
    httpserver.expect_request("/").respond_with_data("ok")
    return site_create(project=alice_project(), url=httpserver.url_for("/"), name="Local")


@pytest.fixture
def guard_on(settings):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False


def test_check_site_refused_by_its_own_settings_says_so_and_records_nothing(
    loopback_site, guard_on, httpserver
):
    with pytest.raises(CommandError) as error:
        call_command("check_site", str(loopback_site.id), stdout=StringIO())

    assert error.value.returncode == 3
    message = str(error.value)
    assert message.startswith("not checked: this process refuses private addresses")
    assert "UPTIME_ALLOW_PRIVATE_TARGETS is off" in message
    assert "Nothing was recorded" in message
    assert httpserver.log == []
    assert Check.objects.count() == 0
    assert Transition.objects.count() == 0
    assert Site.objects.get().status == Site.Status.UNKNOWN


def test_check_site_still_records_a_real_check_when_allowed(loopback_site):
    call_command("check_site", str(loopback_site.id), stdout=StringIO())

    assert Check.objects.get().up
    assert Site.objects.get().status == Site.Status.UP


def test_the_engine_records_no_failure_for_a_refused_site_and_releases_its_claim(
    loopback_site, guard_on, caplog
):
    check_sites([loopback_site.id])  # no claim: the admin's or the API's "check now"
    Site.objects.filter(pk=loopback_site.pk).update(
        status=Site.Status.UP, next_check_at=timezone.now()
    )
    now = timezone.now()
    assert claim_due_sites(now=now) == [loopback_site.id]

    with caplog.at_level(logging.WARNING, logger="monitor.recording"):
        run_checks([loopback_site.id], claim=now.isoformat())

    site = Site.objects.get()
    assert Check.objects.count() == 0
    assert Transition.objects.count() == 0
    assert site.status == Site.Status.UP  # as it was: the site was never asked
    assert site.claimed_at is None and site.claim_expires_at is None
    assert site.next_check_at > now  # claimed again at its next due time, not at once
    assert any("not checked" in r.getMessage() for r in caplog.records)


def test_a_refusal_in_a_batch_leaves_the_other_sites_results_recorded(loopback_site, guard_on):
    # With the guard on every loopback target is refused; a name that cannot
    # resolve still fails for real (DNS), without a query.
    failing = site_create(project=alice_project(), url="http://down.invalid/", name="Gone")

    check_sites([loopback_site.id, failing.id])

    assert list(Check.objects.values_list("site_id", flat=True)) == [failing.id]
    assert Transition.objects.get().site_id == failing.id
