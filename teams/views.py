"""Pages of teams: accepting an invitation."""

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from teams.invitations import invitation_accept, invitation_for_key


@require_http_methods(["GET", "POST"])
@never_cache
def invitation_accept_page(request: HttpRequest, key: str) -> HttpResponse:
    """Show the invitation; a signed-in user accepts it with a POST."""
    invitation = invitation_for_key(key)
    if invitation is None:
        return render(request, "teams/invitation_invalid.html", status=404)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if request.method == "GET":
        return render(request, "teams/invitation_accept.html", {"invitation": invitation})
    try:
        invitation_accept(invitation=invitation, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("dashboard")
    messages.success(request, f"You joined {invitation.project.name}.")
    return redirect("dashboard")
