from django.core.management.base import BaseCommand

from incidents.demo.seed import seed_demo


class Command(BaseCommand):
    help = (
        "Load demo data: severities, services, people, schedules, a policy and runbooks. "
        "Safe to run again: existing rows are kept and nothing is duplicated."
    )

    def handle(self, *args, **options):
        seed_demo()
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
