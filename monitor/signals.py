from django.dispatch import Signal

# Sent after the transaction that stored a Transition has committed, once per
# transition, with keyword arguments `transition` and `site`. An explicit
# signal rather than post_save: bulk_create does not send post_save, and
# post_save would fire before the commit.
site_status_changed = Signal()

# Sent once after the same commit, with `transitions`: every transition that
# batch stored. Receivers that queue work per change (notifications) take
# them together, so a thousand monitors going down at once is a few tasks,
# not a thousand.
transitions_committed = Signal()
