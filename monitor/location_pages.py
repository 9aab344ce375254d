"""The Locations page: where checks are made from, and whether each is reporting.

Anyone signed in may look (locations serve every project); staff add and
change them with `manage.py location`, the API or the admin.
"""

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from monitor.locations import counts
from monitor.models import Location
from sites.views import dashboard_login_required


@dataclass(frozen=True)
class LocationRow:
    location: Location
    state: str  # live, stale, network-down or disabled

    @property
    def state_text(self) -> str:
        return {
            "live": "Live",
            "stale": "Stale",
            "network-down": "Network down",
            "disabled": "Disabled",
        }[self.state]


def location_state(location: Location, now) -> str:
    if not location.enabled:
        return "disabled"
    if not counts(location, now):
        return "stale"
    if location.network_down_since is not None:
        return "network-down"
    return "live"


@require_GET
@dashboard_login_required
def locations_page(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    rows = [LocationRow(loc, location_state(loc, now)) for loc in Location.objects.order_by("id")]
    return render(
        request,
        "locations/locations.html",
        {"rows": rows, "is_staff": request.user.is_staff},
    )
