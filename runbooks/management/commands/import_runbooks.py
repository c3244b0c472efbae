from django.core.management.base import BaseCommand, CommandError

from runbooks.files import RunbookFileError
from runbooks.services import runbooks_import


class Command(BaseCommand):
    help = (
        "Import runbooks from Markdown files with YAML front matter (directories: their *.md). "
        "Creates or updates each runbook by title and keeps a revision when it changed. "
        "All or nothing: one bad file and nothing is imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH")

    def handle(self, *args, paths, **options):
        try:
            result = runbooks_import(paths=paths)
        except RunbookFileError as error:
            raise CommandError(str(error)) from None
        for label, titles in (
            ("created", result.created),
            ("updated", result.updated),
            ("unchanged", result.unchanged),
        ):
            for title in titles:
                self.stdout.write(f"{label}: {title}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(result.created)} created, {len(result.updated)} updated, "
                f"{len(result.unchanged)} unchanged."
            )
        )
