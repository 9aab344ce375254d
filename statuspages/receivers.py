"""A monitor's state change drops the cached status pages that show it."""

from django.dispatch import receiver

from monitor.signals import transitions_committed
from statuspages.cache import invalidate_for_sites


@receiver(transitions_committed, dispatch_uid="statuspages.invalidate_pages")
def invalidate_pages_of_changed_sites(sender, transitions, **kwargs) -> None:
    # Sent after the commit, once per batch: one query finds the pages of all of them.
    invalidate_for_sites({transition.site_id for transition in transitions})
