"""Fixtures borrowed from the other suites' conftests."""

from tests.notifications.conftest import make_transition  # noqa: F401
