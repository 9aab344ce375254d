"""Pages of teams: accepting an invitation."""

from allauth.account.forms import SignupForm
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.adapter import INVITATION_SESSION_KEY
from accounts.limits import failure_counted, failures_limited
from teams.invitations import invitation_accept, invitation_for_key


@require_http_methods(["GET", "POST"])
@never_cache
@failures_limited
def invitation_accept_page(request: HttpRequest, key: str) -> HttpResponse:
    """Show the invitation; a signed-in user accepts it with a POST.

    A visitor without an account may sign up here (even with open sign-up
    off), sign in, or sign in with SSO; the key waits in their session and the
    new account joins the project (accounts.signals). allauth's "signup"
    rate limit applies to the sign-up form. A key is a credential: an unknown,
    used or expired one counts as a failed attempt of the address
    (accounts.limits), which is refused before any key is looked up once full.
    """
    invitation = invitation_for_key(key)
    if invitation is None:
        failure_counted(request)
        return render(request, "teams/invitation_invalid.html", status=404)
    if not request.user.is_authenticated:
        if request.method == "POST":
            return redirect(request.path)
        request.session[INVITATION_SESSION_KEY] = key
        form = SignupForm(initial={"email": invitation.email})
        context = {"invitation": invitation, "form": form, "next_url": request.path}
        return render(request, "teams/invitation_signup.html", context)
    if request.method == "GET":
        return render(request, "teams/invitation_accept.html", {"invitation": invitation})
    try:
        invitation_accept(invitation=invitation, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("dashboard")
    request.session.pop(INVITATION_SESSION_KEY, None)
    messages.success(request, f"You joined {invitation.project.name}.")
    return redirect("dashboard")
