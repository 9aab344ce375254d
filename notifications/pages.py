"""A project's Channels page: list, add (kind first, then its settings), edit, test, delete.

Thin views over notifications.selectors and notifications.services: every
member reads, editors and up write (403 otherwise), another project's
channel answers 404.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from notifications.forms import ChannelForm
from notifications.models import Channel
from notifications.selectors import channel_get, channel_list
from notifications.services import (
    TestResult,
    available_kinds,
    channel_create,
    channel_delete,
    channel_test,
    channel_update,
)
from notifications.transports import KINDS
from sites.views import audit_of, dashboard_login_required
from teams.access import Action, can
from teams.pages import project_or_404


def _channel_or_404(request: HttpRequest, pk: int, channel_id: int, action: Action) -> Channel:
    try:
        channel = channel_get(user=request.user, channel_id=channel_id, action=action)
    except Channel.DoesNotExist:
        raise Http404("No such channel.") from None
    if channel.project_id != pk:
        raise Http404("No such channel.")
    return channel


@require_GET
@dashboard_login_required
def project_channels(request: HttpRequest, pk: int) -> HttpResponse:
    """Every member sees the channels and their health; editors and up add, test, edit."""
    project = project_or_404(request, pk)
    channels = list(channel_list(user=request.user, project_id=project.pk))
    labels = dict(Channel.Event.choices)
    for channel in channels:
        channel.event_names = [labels.get(event, event) for event in channel.events]
    context = {
        "project": project,
        "channels": channels,
        "kinds": [(kind, KINDS[kind]) for kind in available_kinds()],
        "edits": can(user=request.user, project=project, action=Action.EDIT_MONITORS),
        "manages": can(user=request.user, project=project, action=Action.MANAGE_PROJECT),
    }
    return render(request, "notifications/project_channels.html", context)


@require_http_methods(["GET", "POST"])
@dashboard_login_required
def channel_add(request: HttpRequest, pk: int) -> HttpResponse:
    project = project_or_404(request, pk, action=Action.EDIT_MONITORS)
    kind = request.GET.get("kind") or request.POST.get("kind") or ""
    if kind not in available_kinds():
        messages.error(request, "Choose a kind of channel first.")
        return redirect("project_channels", project.pk)
    initial = {"events": list(Channel.DEFAULT_EVENTS), "name": KINDS[kind]}
    form = ChannelForm(request.POST or None, kind=kind, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            channel = channel_create(
                project=project, kind=kind, **form.values(), **audit_of(request)
            )
        except ValidationError as exc:
            form.show(exc)
        else:
            messages.success(request, f"Added {channel.name}. Send it a test message to check it.")
            return redirect("project_channels", project.pk)
    context = {"project": project, "form": form, "kind": kind, "kind_label": KINDS[kind]}
    return render(request, "notifications/channel_edit.html", context)


@require_http_methods(["GET", "POST"])
@dashboard_login_required
def channel_edit(request: HttpRequest, pk: int, channel_id: int) -> HttpResponse:
    channel = _channel_or_404(request, pk, channel_id, Action.EDIT_MONITORS)
    form = ChannelForm(request.POST or None, kind=channel.kind, channel=channel)
    if request.method == "POST" and form.is_valid():
        try:
            channel_update(channel=channel, **form.values(), **audit_of(request))
        except ValidationError as exc:
            form.show(exc)
        except Channel.DoesNotExist:
            raise Http404("No such channel.") from None
        else:
            messages.success(request, f"Saved {channel.name}.")
            return redirect("project_channels", pk)
    context = {
        "project": channel.project,
        "channel": channel,
        "form": form,
        "kind": channel.kind,
        "kind_label": KINDS.get(channel.kind, channel.kind),
    }
    return render(request, "notifications/channel_edit.html", context)


@require_POST
@dashboard_login_required
def channel_test_page(request: HttpRequest, pk: int, channel_id: int) -> HttpResponse:
    """Send a test message now; the destination's answer is shown as the page's message."""
    channel = _channel_or_404(request, pk, channel_id, Action.EDIT_MONITORS)
    result = channel_test(channel=channel)
    if result.ok:
        messages.success(request, f"{channel.name}: {_said(result)}")
    else:
        messages.error(
            request, f"{channel.name}: the test message was not delivered. {result.error}"
        )
    return redirect("project_channels", pk)


def _said(result: TestResult) -> str:
    status = f" (HTTP {result.status_code})" if result.status_code else ""
    answer = f": {result.answer}" if result.answer else "."
    return f"the destination accepted the test message{status}{answer}"


@require_http_methods(["GET", "POST"])
@dashboard_login_required
def channel_delete_page(request: HttpRequest, pk: int, channel_id: int) -> HttpResponse:
    channel = _channel_or_404(request, pk, channel_id, Action.EDIT_MONITORS)
    if request.method == "GET":
        context = {"project": channel.project, "channel": channel}
        return render(request, "notifications/channel_confirm_delete.html", context)
    try:
        channel_delete(channel=channel, **audit_of(request))
    except Channel.DoesNotExist:
        raise Http404("No such channel.") from None
    messages.success(request, f"Deleted {channel.name}.")
    return redirect("project_channels", pk)
