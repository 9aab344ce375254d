"""What the public status pages keep ready, and when it goes stale.

Contract used by the editor (statuspages.services) and by the state-change
receiver: call these after a write commits. Implemented by the public pages' work.
"""

from collections.abc import Iterable


def invalidate_pages(page_ids: Iterable[int]) -> None:
    """These pages changed (settings, groups, incidents): drop what is cached of them."""


def invalidate_for_sites(site_ids: Iterable[int]) -> None:
    """These monitors changed state: drop what is cached of every page showing one."""
