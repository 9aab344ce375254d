"""What a reader makes of one monitor of another tool, before anything is written.

A reader (kuma, gatus) turns its file into Candidates: pure data, so the
mapping is tested without a database. sites.importers then writes the ones
that map through sites.services.site_create.
"""

import math
import re
from dataclasses import dataclass, field

from sites.models import MAX_INTERVAL, MAX_THRESHOLD, MAX_TIMEOUT, MIN_INTERVAL


class UnreadableFile(Exception):
    """The file is not one the reader understands; the message says what is wrong."""


class NotMapped(Exception):
    """This monitor has no equivalent here; the message says why."""


@dataclass
class Candidate:
    """One monitor as Uptime would have it: site_create's arguments, and what was lost."""

    name: str
    kind: str = "http"
    # The kind's options in the API's names, secrets included (site_create's `options`).
    options: dict = field(default_factory=dict)
    # site_create's other keyword arguments: interval, timeout, enabled, thresholds...
    settings: dict = field(default_factory=dict)
    # Caveats: what maps only approximately, or was left out.
    notes: list[str] = field(default_factory=list)
    # Why it is not imported at all ("" when it maps).
    problem: str = ""


def interval(seconds: float, notes: list[str]) -> int:
    """Seconds between checks, within Uptime's limits (a note when moved)."""
    return _within(math.ceil(seconds), MIN_INTERVAL, MAX_INTERVAL, "interval", notes, unit="s")


def timeout(seconds: float, every: int, notes: list[str]) -> int:
    """A check's timeout: at most MAX_TIMEOUT and never longer than the interval."""
    return _within(math.ceil(seconds), 1, min(MAX_TIMEOUT, every), "timeout", notes, unit="s")


def retry_interval(seconds: float, every: int, notes: list[str]) -> int:
    return _within(math.ceil(seconds), MIN_INTERVAL, every, "retry interval", notes, unit="s")


def threshold(count: int, what: str, notes: list[str]) -> int:
    return _within(count, 1, MAX_THRESHOLD, what, notes)


def _within(value: int, low: int, high: int, what: str, notes: list[str], unit: str = "") -> int:
    if value < low:
        notes.append(f"{what} {value}{unit} raised to {low}{unit} (Uptime's minimum)")
        return low
    if value > high:
        notes.append(f"{what} {value}{unit} lowered to {high}{unit} (Uptime's limit)")
        return high
    return value


# A dotted path with indexes ("data.items[0].state"): what both tools write
# that Uptime's small JSON path ($.data.items[0].state) also means.
_SIMPLE_PATH = re.compile(
    r"[A-Za-z_][A-Za-z0-9_-]*(?:\[\d+\])*(?:\.[A-Za-z_][A-Za-z0-9_-]*(?:\[\d+\])*)*"
)


def json_path(path: str) -> str | None:
    """ "status", "$.status" or "data.items[0]" as "$.status"...; None for anything else."""
    text = path.strip()
    text = text[2:] if text.startswith("$.") else text
    return f"$.{text}" if _SIMPLE_PATH.fullmatch(text) else None
