"""`manage.py list_projects`: every project, for operators naming one with --project."""

from django.core.management.base import BaseCommand
from django.db.models import Count

from teams.models import Project

HEADERS = ("ID", "NAME", "MEMBERS", "SITES", "PERSONAL OF")


class Command(BaseCommand):
    help = "List every project with its id, name, number of members and of sites."

    def handle(self, *args, **options) -> None:
        projects = (
            Project.objects.select_related("personal_of")
            .annotate(
                member_count=Count("memberships", distinct=True),
                site_count=Count("sites", distinct=True),
            )
            .order_by("id")
        )
        rows = [
            (
                str(p.pk),
                p.name,
                str(p.member_count),
                str(p.site_count),
                p.personal_of.get_username() if p.personal_of else "",
            )
            for p in projects
        ]
        if not rows:
            self.stdout.write("No projects yet.")
            return
        rows.insert(0, HEADERS)
        widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
        for row in rows:
            self.stdout.write(
                "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            )
