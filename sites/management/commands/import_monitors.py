"""`manage.py import_monitors PATH`: bring monitors from Uptime Kuma or Gatus."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from sites.importers import (
    FORMAT_NAMES,
    Candidate,
    Outcome,
    Result,
    UnreadableFile,
    monitors_import,
    read_monitors,
)
from sites.management.commands.add_site import describe_errors
from teams.cli import project_for_command
from teams.models import Project


class Command(BaseCommand):
    help = (
        "Import monitors from an Uptime Kuma database (kuma.db) or a Gatus configuration "
        "file. Each monitor is validated as in the API; one that cannot be imported is "
        "reported with the reason and the others still are. --dry-run reports without writing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help="kuma.db, or Gatus's config.yaml.")
        parser.add_argument(
            "--format",
            choices=sorted(FORMAT_NAMES),
            help="The file's format (default: guessed, SQLite is Kuma's, YAML Gatus's).",
        )
        parser.add_argument(
            "--project", metavar="ID_OR_NAME", help="The project to import into (id or name)."
        )
        parser.add_argument(
            "--user", metavar="USERNAME", help="Import into this user's personal project instead."
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Report what would be imported, with caveats, and write nothing.",
        )

    def handle(self, *args, path, dry_run, **options) -> None:
        project = _project(options["project"], options["user"])
        file = Path(path)
        try:
            format_, candidates = read_monitors(file, options["format"])
        except UnreadableFile as exc:
            raise CommandError(f"Cannot import {path}: {exc}") from None
        self.stdout.write(
            f"{path}: {FORMAT_NAMES[format_]}, {len(candidates)} monitors, "
            f"into project {project.pk} ({project.name})."
        )
        outcomes = monitors_import(project=project, candidates=candidates, dry_run=dry_run)
        for outcome in outcomes:
            self._report(outcome, dry_run)
        self.stdout.write(_summary(outcomes, dry_run))

    def _report(self, outcome: Outcome, dry_run: bool) -> None:
        candidate = outcome.candidate
        what = f"{candidate.name} ({candidate.kind} {_target(candidate)})"
        if outcome.result is Result.IMPORTED:
            verb = "would be imported" if dry_run else "imported"
            self.stdout.write(self.style.SUCCESS(f"{what}: {verb}"))
        elif outcome.result is Result.SKIPPED:
            self.stdout.write(self.style.WARNING(f"{what}: skipped: {outcome.reason}"))
        else:
            reason = outcome.reason or _one_line(describe_errors(outcome.errors))
            self.stdout.write(self.style.ERROR(f"{candidate.name}: not imported: {reason}"))
        if outcome.result is not Result.NOT_IMPORTED:
            for note in candidate.notes:
                self.stdout.write(f"    note: {note}")


def _project(project: str | None, username: str | None) -> Project:
    """--project by id (as add_site) or by name; else project_for_command's choice."""
    if project is None or project.isdigit():
        return project_for_command(project_id=project, username=username)
    if username is not None:
        raise CommandError("Give --project or --user, not both.")
    named = list(Project.objects.filter(name=project)[:2])
    if len(named) != 1:
        found = "Several projects are" if named else "No project is"
        raise CommandError(
            f"{found} named {project!r}: give its id (see `manage.py list_projects`)."
        )
    return named[0]


def _target(candidate: Candidate) -> str:
    """What the monitor checks, as the file says it (before Uptime normalises it)."""
    options = candidate.options
    if "url" in options:
        return options["url"]
    if candidate.kind == "dns":
        return f"{options.get('host')}/{options.get('recordType')}"
    if candidate.kind == "heartbeat":
        return "ping URL"
    host, port = options.get("host"), options.get("port")
    return f"{host}:{port}" if port else str(host)


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.splitlines())


def _summary(outcomes: list[Outcome], dry_run: bool) -> str:
    count = {result: 0 for result in Result}
    for outcome in outcomes:
        count[outcome.result] += 1
    with_notes = sum(
        1 for o in outcomes if o.result is not Result.NOT_IMPORTED and o.candidate.notes
    )
    verb = "Would import" if dry_run else "Imported"
    text = (
        f"{verb} {count[Result.IMPORTED]}, skipped {count[Result.SKIPPED]}, "
        f"not imported {count[Result.NOT_IMPORTED]} ({with_notes} with notes)."
    )
    return f"{text} Dry run: nothing was written." if dry_run else text
