"""heartbeat: the monitored job pings Uptime; down when a ping is overdue.

The schedule is either a `period` in seconds or a 5-field `cron` expression
read in `timezone`; `grace` is how late a ping may be (and how long a run may
take after /start). There is no target: the job calls Site.ping_url.
monitor.heartbeat judges the deadlines.
"""

from croniter import croniter
from django.core.exceptions import ValidationError

from monitor.kinds import _common
from uptime.timezones import zone_of

OPTIONS = {"period": None, "grace": 60, "cron": "", "timezone": "UTC"}
SECRETS = frozenset()

MIN_PERIOD = 60
MAX_PERIOD = 2_592_000  # 30 days
MAX_GRACE = 86_400
MAX_CRON_LENGTH = 100
CRON_FIELDS = 5


def clean(options: dict) -> dict:
    _common.unknown_options(options, OPTIONS)
    given = {**OPTIONS, **options}
    errors = {}
    cleaned = {}
    for name, check in (
        ("period", _period),
        ("cron", _cron),
        ("timezone", _timezone),
        ("grace", _grace),
    ):
        try:
            cleaned[name] = check(given[name])
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if not errors:
        errors = _one_schedule(cleaned)
    if errors:
        raise ValidationError(errors)
    return cleaned


def target(options: dict) -> str:
    return ""  # nothing to reach: the job comes to Uptime


def _period(value) -> int | None:
    if value is None:
        return None
    return _common.whole_number(value, "period", low=MIN_PERIOD, high=MAX_PERIOD)


def _grace(value) -> int:
    return _common.whole_number(value, "grace", low=0, high=MAX_GRACE)


def _cron(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError({"cron": ['A cron expression such as "0 3 * * *", as text.']})
    text = " ".join(value.split())
    if not text:
        return ""
    # croniter also takes seconds and years (6 or 7 fields) and @aliases; a
    # crontab line has five fields, and that is what people copy from it.
    if len(text) > MAX_CRON_LENGTH or len(text.split(" ")) != CRON_FIELDS:
        raise ValidationError(
            {"cron": ["Five fields: minute hour day-of-month month day-of-week, e.g. 0 3 * * *."]}
        )
    if not croniter.is_valid(text):
        raise ValidationError({"cron": [f"{text!r} is not a valid cron expression."]})
    return text


def _timezone(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError({"timezone": ['An IANA time zone name such as "Europe/Paris".']})
    name = value.strip()
    try:
        zone_of(name)
    except ValidationError as exc:
        raise ValidationError({"timezone": exc.messages}) from None
    return name


def _one_schedule(cleaned: dict) -> dict:
    if cleaned["period"] is None and not cleaned["cron"]:
        return {"period": ["Set a period in seconds, or a cron expression."]}
    if cleaned["period"] is not None and cleaned["cron"]:
        return {"cron": ["Set either period or cron, not both (send null for the other)."]}
    return {}
