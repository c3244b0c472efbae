import signal
import threading

from django.core.management.base import BaseCommand

from incidents.alerts.inbox import inbox_work


class Command(BaseCommand):
    help = (
        "Apply the ingest inbox: accepted alert events, in batches, as they arrive (woken by "
        "PostgreSQL's NOTIFY, else every --poll seconds). Run one or two per core; several on "
        "several machines share the work. SIGTERM or Ctrl-C stops it after the current batch."
    )

    def add_arguments(self, parser):
        parser.add_argument("--poll", type=float, default=None, help="Seconds between looks.")

    def handle(self, *args, poll: float | None, **options):
        stop = threading.Event()

        def finish(signum, frame):
            stop.set()

        signal.signal(signal.SIGTERM, finish)
        signal.signal(signal.SIGINT, finish)
        self.stdout.write("ingest worker: applying the inbox", ending="\n")
        self.stdout.flush()
        inbox_work(stop=stop, poll_seconds=poll)
        self.stdout.write("ingest worker: stopped")
