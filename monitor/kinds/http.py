"""http: a request to a URL, judged by its answer.

(The URL only for now; the request and answer options arrive with the probe
work of issue 10.)
"""

from django.core.exceptions import ValidationError

from monitor.kinds import _common
from sites.targets import clean_target

OPTIONS = {"url": ""}
SECRETS = frozenset()


def clean(options: dict) -> dict:
    _common.unknown_options(options, OPTIONS)
    try:
        url = clean_target(options.get("url") or "")
    except ValidationError as exc:
        raise ValidationError({"url": exc.messages}) from None
    return {"url": url}


def target(options: dict) -> str:
    return options["url"]
