from django.dispatch import Signal

# Sent after the transaction that stored a Transition has committed, once per
# transition, with keyword arguments `transition` and `site`. An explicit
# signal rather than post_save: bulk_create does not send post_save, and
# post_save would fire before the commit.
site_status_changed = Signal()
