import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "uptime.settings")

application = get_wsgi_application()

# Import every view now (the URLconf is otherwise loaded by the first request),
# then put everything loaded at start-up out of the cyclic garbage collector's
# reach: its full collections walked those ~140,000 long-lived objects, over
# 100 ms that fell on whichever request set one off (the dashboard's p99 in
# bench/status_read.py); they now walk what requests created since.
# https://docs.python.org/3/library/gc.html#gc.freeze
get_resolver().url_patterns  # noqa: B018 - loaded for its side effect
gc.freeze()
