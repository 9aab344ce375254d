"""The server-rendered dashboard: thin views that read sites and call sites.services."""

import math
from collections.abc import Callable
from functools import wraps

from allauth.account import views as account_views
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.db import DatabaseError, connection
from django.db.models import Count, Q
from django.forms.utils import ErrorDict
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.adapter import LOCKOUT
from accounts.limits import attempt_key, failure_counted, lockout_message, seconds_locked_out
from monitor.checking import check_site_now
from monitor.maintenance import in_maintenance
from monitor.models import Check
from notifications import acks
from notifications.selectors import delivery_rows, disabled_channels
from sites import dashboard as listing
from sites import selectors
from sites.forms import DashboardFilterForm, FirstAdminForm, SiteEditForm, SiteForm
from sites.history import certificate, history_context
from sites.kind_fields import option_rows
from sites.models import Site, Tag
from sites.services import SECRET_MASK, site_delete, site_update
from teams.access import Action, can
from teams.models import Project
from teams.selectors import editable_project_ids, project_get, project_ids, project_list

RECENT_CHECKS = 50
RECENT_TRANSITIONS = 20
RECENT_GAPS = 10
RECENT_DEPENDENTS = 20
REFRESH_SECONDS = 5
# Sites per dashboard page: a page renders in a few milliseconds whatever the total.
PAGE_SIZE = 50
# The tag filter's select lists at most this many names.
MAX_TAG_CHOICES = 200
# The dashboard's project switcher: the chosen project id, remembered per session.
SESSION_PROJECT = "dashboard_project"
ALL_PROJECTS = "all"


def _setup_needed() -> bool:
    return not get_user_model().objects.exists()


def dashboard_login_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """login_required that knows about first run and about htmx.

    With no account yet, the way in is /setup. An htmx poll whose session
    expired must not swap the login page into the site list, so it gets a 401
    with HX-Redirect, which htmx follows as a full-page navigation.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if _setup_needed():
            return redirect("setup")
        if request.htmx:
            response = HttpResponse(status=401)
            next_path = request.htmx.current_url_abs_path or reverse("dashboard")
            response["HX-Redirect"] = redirect_to_login(next_path).url
            return response
        return redirect_to_login(request.get_full_path())

    return wrapper


def audit_of(request: HttpRequest) -> dict:
    """Who to name in the audit log for a write made from a page."""
    return {"actor": request.user, "request": request}


def _selected_project(request: HttpRequest, *, remembered: bool = True) -> Project | None:
    """The project the dashboard is narrowed to, or None for all of them.

    `?project=<id>` chooses one (404 for a project that is not the user's) and
    is remembered in the session; `?project=all` forgets it. A remembered
    project the user has since left quietly falls back to all. The htmx poll
    passes remembered=False: it names its project, so two tabs may differ.
    """
    chosen = request.GET.get("project")
    if chosen == ALL_PROJECTS:
        request.session.pop(SESSION_PROJECT, None)
        return None
    if chosen:
        try:
            project = project_get(user=request.user, project_id=chosen)
        except Project.DoesNotExist:
            raise Http404("No such project.") from None
        request.session[SESSION_PROJECT] = project.pk
        return project
    chosen = request.session.get(SESSION_PROJECT) if remembered else None
    if chosen is None:
        return None
    try:
        return project_get(user=request.user, project_id=chosen)
    except Project.DoesNotExist:
        request.session.pop(SESSION_PROJECT, None)
        return None


def _site_list_context(request: HttpRequest, project: Project | None) -> dict:
    """One page of sites as searched, filtered, sorted and grouped, and the summary counts.

    The summary counts all the (project's) sites, whatever the filters.
    """
    sites = selectors.site_list(user=request.user, project_id=project.pk if project else None)
    summary = sites.aggregate(
        total=Count("pk"),
        paused=Count("pk", filter=Q(enabled=False)),
        **{status: Count("pk", filter=Q(status=status)) for status in Site.Status.values},
    )
    filters = DashboardFilterForm(request.GET)
    query = filters.list_query()
    paginator = Paginator(listing.site_rows(sites, query), PAGE_SIZE)
    if not query.filtered and not query.group:
        # The aggregate has counted them already; saves Paginator a second COUNT.
        paginator.count = summary["total"]
    page = paginator.get_page(request.GET.get("page"))
    page_sites = listing.page_sites(list(page.object_list), sites)
    listing.page_figures(page_sites)
    groups = listing.page_groups(page_sites, grouped=query.group)
    project_param = ("project", str(project.pk) if project else "")
    filter_query = listing.query_string(project_param, *query.params())
    page_param = ("page", str(page.number) if page.number > 1 else "")
    list_url_query = listing.query_string(project_param, *query.params(), page_param)
    back_url = reverse("dashboard") + (f"?{list_url_query}" if list_url_query else "")
    return {
        "sites": page_sites,
        "groups": groups,
        "page_obj": page,
        "page_range": list(paginator.get_elided_page_range(page.number, on_each_side=2)),
        "counts": {status: summary[status] for status in Site.Status.values},
        "paused_count": summary["paused"],
        "total_count": summary["total"],
        "refresh_seconds": REFRESH_SECONDS,
        "project": project,
        "filters": filters,
        "list_query": query,
        # Links, the htmx poll and the bulk form keep the project and the filters,
        # so two tabs may show two views.
        "filter_query": filter_query,
        "list_url_query": list_url_query,
        # Where the row and bulk actions come back to: this page, as filtered.
        "back_url": back_url,
        # "/sites/": the rows write their links from it (one reverse, not 250).
        "sites_url": reverse("site_detail", args=[0]).removesuffix("0"),
        "editable_ids": set(editable_project_ids(user=request.user)),
    }


def _tag_names(request: HttpRequest, project: Project | None) -> list[str]:
    """The tag names the filter offers: those of the shown project(s)."""
    ids = [project.pk] if project else project_ids(user=request.user)
    names = Tag.objects.filter(project_id__in=ids).values_list("name", flat=True)
    return list(names.order_by("name").distinct()[:MAX_TAG_CHOICES])


def _render_dashboard(
    request: HttpRequest, form: SiteForm, project: Project | None, *, status: int = 200
) -> HttpResponse:
    context = {
        "form": form,
        "projects": project_list(user=request.user).order_by("name", "id"),
        # The toolbar's tag filter; the htmx refresh leaves the toolbar alone.
        "tag_choices": _tag_names(request, project),
        # Channels a permanent error turned off, for the projects the user administers.
        "disabled_channels": disabled_channels(user=request.user),
        **_site_list_context(request, project),
    }
    if context["filters"].errors and status == 200:
        status = 400  # an unknown sort or state: named next to its field
    return render(request, "sites/dashboard.html", context, status=status)


@require_GET
@dashboard_login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    project = _selected_project(request)
    form = SiteForm(user=request.user, initial_project=project)
    return _render_dashboard(request, form, project)


@require_GET
@never_cache
@dashboard_login_required
def site_list(request: HttpRequest) -> HttpResponse:
    """The part of the dashboard that htmx re-fetches every few seconds."""
    context = _site_list_context(request, _selected_project(request, remembered=False))
    status = 400 if context["filters"].errors else 200
    return render(request, "sites/_site_list.html", context, status=status)


@require_POST
@dashboard_login_required
def site_add(request: HttpRequest) -> HttpResponse:
    form = SiteForm(request.POST, user=request.user)
    site = form.save(**audit_of(request)) if form.is_valid() else None
    if site is None:
        return _render_dashboard(request, form, _selected_project(request))
    messages.success(request, f"Now monitoring {site}.")
    return redirect("dashboard")


def _site_detail_context(request: HttpRequest, site: Site) -> dict:
    transitions = list(
        site.transitions.prefetch_related("notifications__channel")[:RECENT_TRANSITIONS]
    )
    for transition in transitions:
        # Why an alert was never routed or was held back; rare, so one small query each.
        owed = transition.NotificationStatus
        if transition.notification_status in (owed.FAILED, owed.WITHHELD, owed.MUTED):
            transition.notification_reason = (
                transition.attempts.order_by("-id").values_list("error", flat=True).first()
            )
        transition.deliveries = delivery_rows(transition)
    incident = acks.current_incident(site)
    return {
        "site": site,
        "incident": incident,
        "acknowledgement": acks.acknowledgement_of(incident),
        "checks": Check.latest_of(site.id, RECENT_CHECKS),
        "transitions": transitions,
        "options": option_rows(site, SECRET_MASK),
        "confirming": confirmation_text(site, now=timezone.now()),
        "in_maintenance": site.pk in in_maintenance([site.pk], timezone.now()),
        "depends_on": site.depends_on,
        "dependents": site.dependents.order_by("name", "url", "id")[:RECENT_DEPENDENTS],
        "dependent_count": selectors.dependents_count(site),
        "gaps": site.gaps.all()[:RECENT_GAPS],
        "can_edit": can(user=request.user, project=site.project_id, action=Action.EDIT_MONITORS),
        "refresh_seconds": REFRESH_SECONDS,
        "certificate": certificate(site),
    }


def confirmation_text(site: Site, *, now) -> str:
    """ "1 of 3 failures, re-checking in 20 s" while a change is not confirmed yet, else ""."""
    if not site.enabled or site.kind == "heartbeat":
        return ""
    if site.failures_in_a_row and site.status != Site.Status.DOWN:
        counted, needed, what = site.failures_in_a_row, site.failure_threshold, "failure"
    elif site.successes_in_a_row and site.status == Site.Status.DOWN:
        counted, needed, what = site.successes_in_a_row, site.success_threshold, "success"
    else:
        return ""
    if counted >= needed:
        return ""
    wait = site.retry_interval
    if site.next_check_at is not None:
        wait = max(0, math.ceil((site.next_check_at - now).total_seconds()))
    plural = "es" if what == "success" else "s"
    return f"{counted} of {needed} {what}{plural}, re-checking in {wait} s"


@require_GET
@dashboard_login_required
def site_detail(request: HttpRequest, pk: int) -> HttpResponse:
    site = _site_or_404(request, pk)
    context = {
        **_site_detail_context(request, site),
        # Uptime, chart, 90 days and incidents: only here, not in the polled part.
        **history_context(site, range_key=request.GET.get("range")),
    }
    return render(request, "sites/site_detail.html", context)


@require_GET
@never_cache
@dashboard_login_required
def site_detail_part(request: HttpRequest, pk: int) -> HttpResponse:
    """The part of the site page that htmx re-fetches every few seconds."""
    site = _site_or_404(request, pk)
    return render(request, "sites/_site_detail.html", _site_detail_context(request, site))


@require_http_methods(["GET", "POST"])
@dashboard_login_required
def site_edit(request: HttpRequest, pk: int) -> HttpResponse:
    site = _site_or_404(request, pk, action=Action.EDIT_MONITORS)
    if request.method == "GET":
        form = SiteEditForm(site=site)
    else:
        form = SiteEditForm(request.POST, site=site)
        if form.is_valid() and form.save(**audit_of(request)):
            messages.success(request, f"Saved {site}.")
            return redirect("site_detail", site.pk)
    return render(request, "sites/site_edit.html", {"site": site, "form": form})


@require_POST
@dashboard_login_required
def site_pause(request: HttpRequest, pk: int) -> HttpResponse:
    return _set_enabled(request, pk, enabled=False)


@require_POST
@dashboard_login_required
def site_resume(request: HttpRequest, pk: int) -> HttpResponse:
    return _set_enabled(request, pk, enabled=True)


def _set_enabled(request: HttpRequest, pk: int, *, enabled: bool) -> HttpResponse:
    site = _site_or_404(request, pk, action=Action.EDIT_MONITORS)
    try:
        site_update(site=site, enabled=enabled, **audit_of(request))
    except Site.DoesNotExist:
        raise Http404("No such site.") from None
    verb = "Resumed" if enabled else "Paused"
    messages.success(request, f"{verb} {site}.")
    return _back(request, site)


@require_POST
@dashboard_login_required
def site_check(request: HttpRequest, pk: int) -> HttpResponse:
    """Probe the site now (even a paused one) and record the result, as the API does."""
    site = _site_or_404(request, pk, action=Action.EDIT_MONITORS)
    if site.kind == "heartbeat":
        messages.info(request, "A heartbeat is never checked: it waits for its pings.")
        return _back(request, site)
    try:
        result = check_site_now(site)
    except Site.DoesNotExist:
        raise Http404("No such site.") from None
    code = f" ({result.status_code})" if result.status_code else ""
    if result.up and result.error_kind:
        messages.warning(request, f"{site} is degraded{code}: {result.error_message}")
    elif result.up:
        messages.success(request, f"{site} is up{code}.")
    else:
        messages.error(request, f"{site} is down: {result.reason}")
    return _back(request, site)


def _back(request: HttpRequest, site: Site) -> HttpResponse:
    """Back to the page the form was on (the dashboard or the site page), never off-site."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("site_detail", args=[site.pk])
    if request.htmx:
        return HttpResponseClientRedirect(target)
    return redirect(target)


@require_http_methods(["GET", "POST"])
@dashboard_login_required
def site_delete_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    site = _site_or_404(request, pk, action=Action.EDIT_MONITORS)
    if request.method == "GET":
        return render(request, "sites/site_confirm_delete.html", {"site": site})
    label = str(site)
    try:
        site_delete(site=site, **audit_of(request))
    except Site.DoesNotExist:  # deleted by another request since the line above
        raise Http404(f"No site has the id {pk}.") from None
    messages.success(request, f"Stopped monitoring {label}.")
    if request.htmx:
        # hx-confirm delete from the list: reload the page so the message shows.
        return HttpResponseClientRedirect(reverse("dashboard"))
    return redirect("dashboard")


@require_POST
@dashboard_login_required
def site_bulk(request: HttpRequest) -> HttpResponse:
    """Pause, resume or delete the ticked monitors of the dashboard, each on its own.

    Each site is checked and written alone (sites.services, one transaction
    each): one the user may not edit, or one deleted meanwhile, is counted
    and named in a message, and the others go ahead. Delete asks first, on a
    page listing them; that page posts again with confirm=yes.
    """
    action = request.POST.get("action", "")
    if action not in BULK_ACTIONS:
        return HttpResponseBadRequest(f"action: one of {', '.join(BULK_ACTIONS)}, please.")
    raw = request.POST.getlist("site")
    if len(raw) > MAX_BULK or not all(v.isascii() and v.isdigit() and len(v) < 19 for v in raw):
        return HttpResponseBadRequest(f"site: at most {MAX_BULK} monitor ids, as numbers.")
    ids = sorted({int(v) for v in raw})
    back = _safe_next(request, reverse("dashboard"))
    if not ids:
        messages.info(request, "Tick the monitors to change first.")
        return redirect(back)
    found = selectors.site_list(user=request.user).filter(pk__in=ids)
    sites = list(found.select_related("project").order_by("name", "url", "id"))
    allowed = _editable(request, sites)
    refused = len(sites) - len(allowed)
    missing = len(ids) - len(sites)
    if action == "delete" and request.POST.get("confirm") != "yes":
        context = {"sites": allowed, "refused": refused, "missing": missing, "next": back}
        return render(request, "sites/_dashboard_confirm_delete.html", context)
    done = 0
    for site in allowed:
        try:
            done += _bulk_one(request, site, action)
        except Site.DoesNotExist:  # deleted by another request meanwhile
            missing += 1
    _bulk_messages(request, action, done, refused, missing)
    return redirect(back)


BULK_ACTIONS = {"pause": "Paused", "resume": "Resumed", "delete": "Deleted"}
# A page holds PAGE_SIZE sites; a few pages' worth at most per request.
MAX_BULK = 500


def _editable(request: HttpRequest, sites: list[Site]) -> list[Site]:
    """The sites whose project lets the user edit monitors (one role lookup per project)."""
    verdicts: dict[int, bool] = {}
    for site in sites:
        if site.project_id not in verdicts:
            verdicts[site.project_id] = can(
                user=request.user, project=site.project_id, action=Action.EDIT_MONITORS
            )
    return [site for site in sites if verdicts[site.project_id]]


def _bulk_one(request: HttpRequest, site: Site, action: str) -> int:
    """1 if the site changed, 0 if it already was as asked."""
    if action == "delete":
        site_delete(site=site, **audit_of(request))
        return 1
    enabled = action == "resume"
    if site.enabled == enabled:
        return 0
    site_update(site=site, enabled=enabled, **audit_of(request))
    return 1


def _bulk_messages(request: HttpRequest, action: str, done: int, refused: int, missing: int):
    def monitors(n: int) -> str:
        return f"{n} monitor{'' if n == 1 else 's'}"

    messages.success(request, f"{BULK_ACTIONS[action]} {monitors(done)}.")
    if refused:
        messages.error(
            request, f"{monitors(refused)} left as they were: your role may not edit them."
        )
    if missing:
        messages.warning(request, f"{monitors(missing)} not found: deleted, or not yours.")


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _site_or_404(request: HttpRequest, pk: int, *, action: Action = Action.READ) -> Site:
    """The user's site, or a 404; with an action beyond reading, a 403 if their role forbids it."""
    try:
        return selectors.site_get(user=request.user, site_id=pk, action=action)
    except Site.DoesNotExist:
        raise Http404("No such site.") from None


@require_http_methods(["GET", "POST"])
@never_cache
def setup(request: HttpRequest) -> HttpResponse:
    """First run: create the first account, a superuser. Gone once any user exists."""
    if not _setup_needed():
        raise Http404("Setup is already done.")
    form = FirstAdminForm(request.POST or None)
    if request.method == "GET":
        return render(request, "registration/setup.html", {"form": form})
    # Until the first account exists this page is open to anyone who can
    # reach it, so its submissions count like failed logins (accounts.limits).
    key = attempt_key(request, request.POST.get("username", ""), entry="setup")
    attempt = failure_counted(request, key=key)
    if attempt is None:
        return _locked_out(request, "registration/setup.html", form, key)
    if form.is_valid():
        user = form.save()
        if user is None:
            raise Http404("Setup is already done.")
        attempt.rollback()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.get_username()}. Add a site to monitor.")
        return redirect("dashboard")
    return render(request, "registration/setup.html", {"form": form})


def _locked_out(request: HttpRequest, template: str, form: forms.Form, key: str) -> HttpResponse:
    """The form again, unvalidated, with only the lockout as its error; 429 with Retry-After."""
    wait = seconds_locked_out(request, key=key)
    form.cleaned_data = {}
    form._errors = ErrorDict()  # errors set, so nothing calls full_clean()
    form.add_error(None, lockout_message(wait))
    response = render(request, template, {"form": form}, status=429)
    response["Retry-After"] = str(wait)
    return response


class LoginView(account_views.LoginView):
    """allauth's login (username or email; then the second factor if enabled).

    With no account yet the way in is /setup. A full failure counter answers
    429 with Retry-After, before any password is checked (accounts.adapter).
    """

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if _setup_needed():
            return redirect("setup")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs) -> dict:
        return {**super().get_context_data(**kwargs), "open_signup": settings.UPTIME_OPEN_SIGNUP}

    def form_invalid(self, form: forms.Form) -> HttpResponse:
        response = super().form_invalid(form)
        errors = form.non_field_errors().as_data()
        if any(error.code == LOCKOUT for error in errors):
            response.status_code = 429
            response["Retry-After"] = str(getattr(self.request, "uptime_lockout_seconds", 60))
        return response


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and containers: is the database answering?"""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})
