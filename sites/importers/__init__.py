"""Monitors brought from other tools: Uptime Kuma's database, Gatus's configuration.

Reading is pure (a file → Candidates, in sites.importers.kuma and .gatus);
writing goes through sites.services.site_create, the one write path, so an
imported monitor is validated exactly as one added through the API.
"""

import enum
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from sites.importers import gatus, kuma
from sites.importers.common import Candidate, UnreadableFile
from sites.models import DUPLICATE_URL
from sites.services import site_create
from teams.models import Project

READERS = {"kuma": kuma.read, "gatus": gatus.read}
FORMAT_NAMES = {"kuma": "Uptime Kuma database", "gatus": "Gatus configuration"}

__all__ = [
    "FORMAT_NAMES",
    "Candidate",
    "Outcome",
    "Result",
    "UnreadableFile",
    "monitors_import",
    "read_monitors",
]


class Result(enum.Enum):
    IMPORTED = "imported"
    SKIPPED = "skipped"
    NOT_IMPORTED = "not imported"


@dataclass
class Outcome:
    candidate: Candidate
    result: Result
    reason: str = ""  # why skipped or not imported
    errors: ValidationError | None = None  # site_create's, when validation refused it


def detect_format(path: Path) -> str:
    """ "kuma" for an SQLite file, else "gatus" (its reader says if it is not YAML)."""
    try:
        with path.open("rb") as file:
            header = file.read(len(kuma.SQLITE_HEADER))
    except OSError as exc:
        raise UnreadableFile(f"cannot read it ({exc.strerror or exc})") from None
    return "kuma" if header == kuma.SQLITE_HEADER else "gatus"


def read_monitors(path: Path, format_: str | None = None) -> tuple[str, list[Candidate]]:
    """(the format, its monitors as Candidates); UnreadableFile says why not."""
    if not path.is_file():
        raise UnreadableFile("no such file")
    format_ = format_ or detect_format(path)
    return format_, READERS[format_](path)


def monitors_import(
    *, project: Project, candidates: list[Candidate], dry_run: bool = False
) -> list[Outcome]:
    """Create each candidate that maps; one refused does not stop the others.

    A dry run does the same in a transaction rolled back at the end, so it
    reports exactly what a real run would (a duplicate within the file too).
    """
    with transaction.atomic():
        outcomes = [_import_one(project, candidate) for candidate in candidates]
        if dry_run:
            transaction.set_rollback(True)
    return outcomes


def _import_one(project: Project, candidate: Candidate) -> Outcome:
    if candidate.problem:
        return Outcome(candidate, Result.NOT_IMPORTED, candidate.problem)
    try:
        site_create(
            project=project,
            kind=candidate.kind,
            options=candidate.options,
            name=candidate.name,
            **candidate.settings,
        )
    except ValidationError as exc:
        if DUPLICATE_URL in exc.message_dict.get("url", []):
            return Outcome(candidate, Result.SKIPPED, "already monitored in this project")
        return Outcome(candidate, Result.NOT_IMPORTED, errors=exc)
    return Outcome(candidate, Result.IMPORTED)
