from django.core.management.base import BaseCommand

from runbooks.services import runbooks_export


class Command(BaseCommand):
    help = "Write every runbook to DIR/<slug>.md, in the form import_runbooks reads."

    def add_arguments(self, parser):
        parser.add_argument("directory", metavar="DIR")

    def handle(self, *args, directory, **options):
        written = runbooks_export(directory=directory)
        for path in written:
            self.stdout.write(str(path))
        self.stdout.write(self.style.SUCCESS(f"{len(written)} runbooks written to {directory}."))
