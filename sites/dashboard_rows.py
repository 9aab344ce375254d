"""The dashboard list's rows, written in Python rather than by the template engine.

Fifty rows of template tags, filters and variable look-ups were 40 % of the
refresh's time (bench/status_read.py); the same markup written here costs a
tenth of it. Every value from the database or the user goes through
html.escape(), as the template's autoescaping did (Django's escape() is the
same function behind a lazy-string wrapper that cost more than the escaping);
tests/sites/test_dashboard_rows.py checks that markup comes out escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

from django.contrib.humanize.templatetags.humanize import naturaltime
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime

from sites.models import Site

_DOT = '<span class="badge__dot" aria-hidden="true"></span>'
_CHIP_DOT = (
    '<svg class="chip__dot" viewBox="0 0 10 10" width="10" height="10" aria-hidden="true" '
    'focusable="false"><circle cx="5" cy="5" r="5" fill="{color}"/></svg>'
)


@dataclass(frozen=True)
class RowContext:
    """What every row of one page shares."""

    sites_url: str  # "/sites/": a row's links are this and its id
    back_url: str  # where the row's actions come back to
    csrf_token: str
    editable_ids: set[int]
    grouped: bool


def chip(name: str, color: str) -> str:
    """A tag chip; color is already a safe "#rrggbb" (dashboard.safe_color)."""
    return f'<span class="chip">{_CHIP_DOT.format(color=escape(color))}{escape(name)}</span>'


def rows_html(sites: list[Site], context: RowContext, *, group_number: int) -> SafeString:
    """The <li> of each site, as templates/sites/_site_list.html lists them.

    group_number: the group's place from 1, which keeps a site's checkbox id
    unique when grouping shows it under two tags.
    """
    suffix = f"-{group_number}" if context.grouped else ""
    return mark_safe("".join(_row(site, context, suffix) for site in sites))  # noqa: S308 - escaped


def _row(site: Site, context: RowContext, suffix: str) -> str:
    label = escape(site.name or site.url or "Unnamed heartbeat")
    status = escape(site.status)
    paused = "" if site.enabled else " site--paused"
    editable = site.project_id in context.editable_ids
    return (
        f'<li class="site site--dash site--{status}{paused}">'
        f'<div class="site__pick">{_pick(site, label, suffix) if editable else ""}</div>'
        f'<div class="site__status">{_badge(site)}</div>'
        f'<div class="site__main">{_main(site, label, context)}</div>'
        f'<dl class="site__meta site__meta--dash">{_meta(site)}</dl>'
        f'<div class="site__actions">{_actions(site, label, context) if editable else ""}</div>'
        "</li>\n"
    )


def _pick(site: Site, label: str, suffix: str) -> str:
    pick_id = f"pick-{site.pk}{suffix}"
    return (
        f'<input type="checkbox" id="{pick_id}" name="site" value="{site.pk}" '
        f'form="bulk-form" data-pick>'
        f'<label for="{pick_id}" class="visually-hidden">Select {label}</label>'
    )


def _badge(site: Site) -> str:
    if not site.enabled:
        return f'<span class="badge badge--paused">{_DOT}PAUSED</span>'
    status = escape(site.status)
    return f'<span class="badge badge--{status}">{_DOT}{escape(site.status.upper())}</span>'


def _main(site: Site, label: str, context: RowContext) -> str:
    parts = [
        '<div class="site__line">',
        f'<a class="site__name" href="{context.sites_url}{site.pk}" title="{label}">{label}</a> ',
        f'<span class="tag tag--kind" title="Kind">{escape(site.get_kind_display())}</span>',
    ]
    if not site.enabled:
        last = escape(site.get_status_display().lower())
        title = f"Not being checked; last status {last}"
        parts.append(f' <span class="tag" title="{title}">Paused</span>')
    parts.append("</div>")
    if site.name and site.url:
        url = escape(site.url)
        if site.kind == "http":
            parts.append(
                f'<a class="site__url" href="{url}" rel="noopener noreferrer" target="_blank" '
                f'title="{url}">{url}</a>'
            )
        else:
            parts.append(f'<span class="site__url" title="{url}">{url}</span>')
    if site.tag_chips:
        chips = "".join(f"<li>{chip(name, color)}</li>" for name, color in site.tag_chips)
        parts.append(f'<ul class="chips" role="list" aria-label="Tags">{chips}</ul>')
    if site.status in (Site.Status.DOWN, Site.Status.DEGRADED):
        lead = "Degraded: " if site.status == Site.Status.DEGRADED else "Reason: "
        parts.append(
            f'<p class="site__reason"><span class="visually-hidden">{lead}</span>'
            f"{escape(site.reason)}</p>"
        )
    return "".join(parts)


def _meta(site: Site) -> str:
    return (
        f"<div><dt>Checked</dt><dd>{_checked(site.last_checked_at)}</dd></div>"
        f"<div><dt>Response</dt><dd>{_response(site)}</dd></div>"
        '<div><dt><abbr title="Uptime over the last 24 hours">24 h</abbr></dt>'
        f'<dd class="uptime-figure">{_uptime(site)}</dd></div>'
        f'<div class="site__trend"><dt>Trend</dt><dd>{_trend(site)}</dd></div>'
    )


def _checked(at: datetime | None) -> str:
    if at is None:
        return "Not yet"
    # The template's |date:"c" and |date:"Y-m-d H:i:s T", at a twentieth of their cost.
    local = localtime(at)
    exact = local.strftime("%Y-%m-%d %H:%M:%S %Z")
    return (
        f'<time datetime="{local.isoformat()}" title="{escape(exact)}">'
        f"{escape(naturaltime(at))}</time>"
    )


def _response(site: Site) -> str:
    if site.last_status_code and site.last_response_ms is not None:
        return f"{site.last_response_ms:,} ms"  # |intcomma in English, the only language
    return "—"


def _uptime(site: Site) -> str:
    if site.uptime_text:
        return escape(site.uptime_text)
    return '<span title="Nothing monitored in the last 24 hours">—</span>'


def _trend(site: Site) -> str:
    line = site.sparkline
    if line is None:
        return '<span class="muted" title="No response times in the last 24 hours">—</span>'
    label = escape(line.label)
    return (
        f'<svg class="spark" viewBox="0 0 96 24" width="96" height="24" role="img" '
        f'aria-label="{label}" focusable="false"><title>{label}</title>'
        f'<path d="{escape(line.path)}" fill="none" stroke="currentColor" stroke-width="1.5" '
        'stroke-linecap="round" stroke-linejoin="round"/></svg>'
    )


def _actions(site: Site, label: str, context: RowContext) -> str:
    """sites/_site_actions.html's buttons, for one row."""
    base = f"{context.sites_url}{site.pk}"
    hidden = (
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(context.csrf_token)}">'
        f'<input type="hidden" name="next" value="{escape(context.back_url)}">'
    )

    def button(action: str, text: str, title: str) -> str:
        return (
            f'<form method="post" action="{base}/{action}">{hidden}'
            f'<button type="submit" class="btn btn--ghost btn--small" title="{title}">'
            f"{text}</button></form>"
        )

    parts = ['<div class="site-actions">']
    if site.kind != "heartbeat":
        parts.append(button("check", "Check now", f"Check {label} now"))
    if site.enabled:
        parts.append(button("pause", "Pause", f"Stop checking {label}"))
    else:
        parts.append(button("resume", "Resume", f"Check {label} again"))
    parts.append(
        f'<a class="btn btn--ghost btn--small" href="{base}/edit">Edit</a>'
        f'<a class="btn btn--ghost btn--small btn--danger" href="{base}/delete" '
        f'hx-post="{base}/delete" '
        f'hx-confirm="Stop monitoring {label}? Its check history will be deleted.">Delete</a>'
    )
    parts.append("</div>")
    return "".join(parts)
