"""Deciding a site's status from what several locations see.

Each location confirms on its own first (failure_threshold failures in a
row from there make it see the site down; monitor.recording). Then the
locations vote. A location's view counts when:

- it is one of the site's locations (none chosen: every enabled one),
- it counts (enabled, and the central side or its heartbeats arrive:
  monitor.locations.counts),
- its own network is not down (Location.network_down_since), and
- it has checked the site recently (within two intervals plus the timeout).

The site is down when at least `needed` voting locations see it down: the
site's quorum, or else a majority, of the locations expected to vote (those
that count and whose network is up, whether or not their latest check has
arrived yet: so the first location to report after a change cannot decide
for all, and a stale location stops being expected, so the quorum adapts).
Fewer than that, but at least one, is a regional problem: the site is
degraded and the transition is marked regional (muted unless the owner asked
to be told; monitor.policy). No voting location at all leaves the status as
it is.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.locations import counts
from monitor.models import Location, SiteLocation
from sites.models import Site

Status = Site.Status


@dataclass(slots=True)
class Tally:
    """The votes about one site, by location name."""

    voting: list[str] = field(default_factory=list)
    down: list[str] = field(default_factory=list)
    degraded: list[str] = field(default_factory=list)
    needed: int = 1

    @property
    def status(self) -> str | None:
        """The site's status these votes decide, or None (nobody voted)."""
        if not self.voting:
            return None
        if len(self.down) >= self.needed:
            return Status.DOWN
        if self.down or self.degraded:
            return Status.DEGRADED
        return Status.UP

    @property
    def regional(self) -> bool:
        """Some voting locations see it down, too few to call it down."""
        return bool(self.down) and len(self.down) < self.needed


def fresh_after(site: Site, now: datetime) -> datetime:
    """A location's last check of the site older than this does not vote."""
    return now - timedelta(seconds=2 * site.interval + site.timeout)


def needed_votes(quorum: int | None, expected: int) -> int:
    """Down votes that make a site down: its quorum (at most everyone expected), or a majority."""
    if quorum:
        return max(1, min(quorum, expected))
    return expected // 2 + 1


def tally(
    site: Site,
    states: list[SiteLocation],
    locations: dict[int, Location],
    *,
    chosen: set[int] | None,
    now: datetime,
) -> Tally:
    """Count the votes of `states` (the site's SiteLocation rows).

    `locations` maps ids to Location rows; `chosen` is the site's own choice
    of location ids (None or empty: every enabled location).
    """
    votes = Tally()
    oldest = fresh_after(site, now)
    expected = {
        location.id
        for location in locations.values()
        if (not chosen or location.id in chosen)
        and counts(location, now)
        and location.network_down_since is None
    }
    for state in states:
        location = locations.get(state.location_id)
        if location is None or location.id not in expected:
            continue
        if state.last_checked_at is None or state.last_checked_at < oldest:
            continue
        if state.status == Status.UNKNOWN:
            continue
        votes.voting.append(location.name)
        if state.status == Status.DOWN:
            votes.down.append(location.name)
        elif state.status == Status.DEGRADED:
            votes.degraded.append(location.name)
    votes.needed = needed_votes(site.quorum, len(expected))
    return votes
