"""Slack transport: format a transition as a message and post it to a webhook.

The error contract follows healthchecks' transports: `post_message` returns
the HTTP status on success and otherwise raises TransportError, which says
whether trying again can help (`permanent`) and, when Slack said so, how long
to wait (`retry_after`). The webhook URL is a secret: no message, log line or
exception built here contains it.
"""

import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import requests
from django.utils import timezone

from monitor.errors import classify_error
from monitor.models import Transition
from monitor.net import AddressNotAllowed, Deadline, guarded_session
from sites.models import Site
from sites.selectors import dependents_count

MAX_ANSWER_BYTES = 2048
MAX_ANSWER_SHOWN = 200
# A Retry-After beyond this is treated as this: the sweeper's give-up age is
# the real bound, and a huge value must not overflow a datetime.
MAX_RETRY_AFTER = 6 * 3600.0

# Slack's documented webhook errors with what a user should do about them.
# https://api.slack.com/messaging/webhooks#handling_errors
HINTS = {
    "no_service": "the webhook was removed or disabled; create a new one",
    "channel_is_archived": "the webhook's channel is archived",
    "channel_not_found": "the webhook's channel no longer exists",
    "invalid_token": "the webhook's token is no longer valid; create a new webhook",
    "team_disabled": "the Slack workspace is disabled",
    "action_prohibited": "a Slack admin restricted posting to this channel",
}


class TransportError(Exception):
    """Delivery did not happen; `permanent` says whether a retry can help."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        retry_after: float | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after
        self.status_code = status_code


# --- Formatting ---------------------------------------------------------------


def escape(text: str) -> str:
    """Escape Slack's three control characters, so text can inject nothing.

    https://api.slack.com/reference/surfaces/formatting#escaping
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quote(text: str) -> str:
    """User text as an inline code span, escaped: shown as typed, never as markup.

    Slack's mrkdwn has no escape for `*`, `_` or `~`; inside a code span they
    are plain characters. A backtick would end the span early, so it becomes
    the look-alike U+02CB (modifier letter grave accent).
    """
    return "`" + escape(text.replace("`", "\u02cb")) + "`"


def format_message(transition: Transition) -> str:
    """The Slack text for a transition: headline, reason or downtime, and time (UTC)."""
    if transition.is_down:
        lines = [_down_headline(transition), *_down_details(transition)]
    elif transition.to_status == Site.Status.DEGRADED:
        lines = [_subject(transition, "is degraded."), *_degraded_details(transition)]
    elif transition.from_status == Site.Status.DEGRADED:
        lines = [_subject(transition, "is back to normal.")]
        lines.append(f"Since {format_utc(transition.created_at)}")
    else:
        lines = [_up_headline(transition), *_up_details(transition)]
    return "\n".join(lines)


def _degraded_details(transition: Transition) -> list[str]:
    check = transition.check_result
    lines = [f"Reason: {escape(check.error_message)}"] if check and check.error_message else []
    lines.append(f"Detected at {format_utc(transition.created_at)}")
    return lines


def _subject(transition: Transition, verb: str) -> str:
    site = transition.site
    target = site.url or f"{site.get_kind_display().lower()} monitor {site.pk}"
    if site.name:
        return f"{quote(site.name)} ({escape(target)}) {verb}"
    return f"*{escape(target)} {verb}*"


def _status_suffix(transition: Transition) -> str:
    check = transition.check_result
    if check is None or check.status_code is None:
        return ""
    return f" (HTTP {check.status_code})"


def _down_headline(transition: Transition) -> str:
    return _subject(transition, "is down!") + _status_suffix(transition)


def _down_details(transition: Transition) -> list[str]:
    check = transition.check_result
    lines = []
    if check is not None and check.reason:
        lines.append(f"Reason: {escape(check.reason)}")
    dependents = dependents_count(transition.site)
    if dependents:
        monitors = "monitor depends" if dependents == 1 else "monitors depend"
        lines.append(f"{dependents} {monitors} on it; their alerts are muted while it is down.")
    lines.append(f"Detected at {format_utc(transition.created_at)}")
    return lines


def _up_headline(transition: Transition) -> str:
    return _subject(transition, "is back up.")


def _up_details(transition: Transition) -> list[str]:
    went_down = _previous_down_at(transition)
    lines = []
    if went_down is not None:
        downtime = format_duration(transition.created_at - went_down)
        lines.append(f"It was down for {downtime} (since {format_utc(went_down)}).")
    lines.append(f"Recovered at {format_utc(transition.created_at)}")
    return lines


def _previous_down_at(transition: Transition) -> datetime | None:
    # The site's status_changed_at already names this recovery, so the start
    # of the outage is the latest transition to down before this one.
    return (
        Transition.objects.filter(
            site_id=transition.site_id,
            to_status=Site.Status.DOWN,
            created_at__lte=transition.created_at,
        )
        .exclude(id=transition.id)
        .order_by("-created_at", "-id")
        .values_list("created_at", flat=True)
        .first()
    )


def format_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_duration(span: timedelta) -> str:
    """A short human duration: "42 s", "5 min 3 s", "2 h 5 min", "3 d 4 h"."""
    seconds = max(0, round(span.total_seconds()))
    units = [("d", 86_400), ("h", 3600), ("min", 60), ("s", 1)]
    parts = []
    for name, size in units:
        count, seconds = divmod(seconds, size)
        if count or (name == "s" and not parts):
            parts.append(f"{count} {name}")
    return " ".join(parts[:2])


# --- Posting ------------------------------------------------------------------


def post_message(webhook_url: str, text: str, *, timeout: float = 10) -> int:
    """POST `text` to a Slack incoming webhook; return the 2xx status or raise TransportError.

    `timeout` bounds the whole exchange, from connecting to the last byte of
    the answer (see monitor.net.Deadline); only the DNS lookup before it is outside.
    """
    started = time.monotonic()
    deadline = Deadline(timeout)
    try:
        with deadline, guarded_session() as session:
            with session.post(
                webhook_url,
                json={"text": text},  # Slack reads `text`; `content` is Discord's field
                headers={"Content-Type": "application/json"},
                timeout=timeout,
                allow_redirects=False,
                stream=True,
            ) as response:
                answer = _read_answer(response, deadline=started + timeout)
    except TransportError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes a classified TransportError
        if deadline.expired:
            raise TransportError(
                f"Could not reach Slack: No complete answer within {timeout:g}s", permanent=False
            ) from None
        raise _network_error(exc, webhook_url, timeout) from None
    return _check_status(response, answer, webhook_url)


def _read_answer(response: requests.Response, *, deadline: float) -> str:
    """Read at most MAX_ANSWER_BYTES of Slack's answer (it is "ok" or an error code)."""
    body = b""
    for chunk in response.iter_content(chunk_size=512):
        body += chunk
        if len(body) >= MAX_ANSWER_BYTES:
            break
        if time.monotonic() > deadline:
            raise TransportError("Slack's answer did not arrive in time", permanent=False)
    return body[:MAX_ANSWER_BYTES].decode("utf-8", errors="replace")


def _check_status(response: requests.Response, answer: str, webhook_url: str) -> int:
    code = response.status_code
    if 200 <= code < 300:
        return code
    shown = _redact(_one_line(answer), webhook_url)
    message = f"Slack answered HTTP {code}" + (f": {shown}" if shown else "")
    if shown in HINTS:
        message += f" ({HINTS[shown]})"
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    # 408 and 429 are "try later"; so is any 5xx. Every other answer means the
    # request or the webhook is wrong, and sending it again cannot help.
    transient = code in (408, 429) or code >= 500
    raise TransportError(
        message, permanent=not transient, retry_after=retry_after, status_code=code
    )


def _network_error(exc: BaseException, webhook_url: str, timeout: float) -> TransportError:
    _, description = classify_error(exc, timeout)
    # A webhook on a private address stays refused until the operator changes
    # the URL or the setting; a DNS failure or a refused connection may pass.
    permanent = isinstance(exc, AddressNotAllowed) or (
        isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema)
    )
    return TransportError(
        f"Could not reach Slack: {_redact(description, webhook_url)}", permanent=permanent
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), or None."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)  # HTTP dates are always GMT
        seconds = (when - timezone.now()).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _one_line(text: str) -> str:
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(printable.split())[:MAX_ANSWER_SHOWN]


def _redact(text: str, webhook_url: str) -> str:
    """Remove the webhook URL (and its secret path) from text shown to anyone."""
    if not webhook_url:
        return text
    text = text.replace(webhook_url, "[webhook]")
    path = requests.utils.urlparse(webhook_url).path
    if len(path) > 1:
        text = text.replace(path, "[webhook path]")
    return text


# --- Connectivity messages (monitor.connectivity) ------------------------------


def format_outage_started(incident) -> str:
    """The one message that replaces the down alerts of a connectivity incident."""
    return "\n".join(
        [
            f"*Uptime cannot reach {incident.sites_unreachable} of "
            f"{incident.sites_checked} sites at once* "
            f"(since {format_utc(incident.started_at)}: connection failures, timeouts, "
            "DNS or TLS errors).",
            "That is most likely Uptime's own network, not the sites. Their individual "
            "down alerts are held until it is back.",
        ]
    )


def format_outage_ended(incident) -> str:
    """The one message that ends a connectivity incident."""
    back_at = incident.recovered_at or incident.ended_at
    lines = [
        "*Uptime's network is back*: it can reach its sites again "
        f"(unreachable from {format_utc(incident.started_at)} for about "
        f"{format_duration(back_at - incident.started_at)})."
    ]
    still_down = incident.sites_still_down or 0
    if still_down:
        noun = "site is" if still_down == 1 else "sites are"
        lines.append(f"{still_down} {noun} still down; their own alerts follow.")
    else:
        lines.append("Every site it could not reach is up again.")
    return "\n".join(lines)
