"""The Celery app: queues, routing and the beat schedule live here, in code."""

import os
from pathlib import Path

from celery import Celery, signals
from celery.schedules import crontab
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.conf import settings

from config.broker import use_atomic_filesystem_transport

use_atomic_filesystem_transport()

app = Celery("tocsin")
app.config_from_object("django.conf:settings", namespace="CELERY")

# Paging work has its own queue so a backlog of housekeeping never delays a page, and sending
# has its own (`delivery`, the outbox) so a slow receiver holds a delivery worker for at most one
# send deadline and never an escalation step or a sweep.
app.conf.task_default_queue = "default"
app.conf.task_queues = (Queue("default"), Queue("paging"), Queue("delivery"))
app.conf.task_routes = {
    "incidents.tasks.escalation_*": {"queue": "paging"},
    "incidents.tasks.notification_*": {"queue": "delivery"},
}
app.conf.beat_schedule = {}
# Escalation steps, severity timers and notifications are rows with deadlines; this sweep fires
# whatever an ETA task missed (lost message, killed worker, flushed Redis) and hands late or
# orphaned notifications to `delivery`. It goes through the default queue so a backlog of steps
# on `paging` cannot hold it back, and expires after a few intervals so sweeps never pile up.
_SWEEP_SECONDS = settings.TOCSIN_TIMER_SWEEP_SECONDS
app.conf.beat_schedule["escalation-sweep"] = {
    "task": "incidents.tasks.escalation_sweep",
    "schedule": _SWEEP_SECONDS,
    "options": {"queue": "default", "expires": max(_SWEEP_SECONDS * 5, 5.0)},
}

# Overdue post-mortems and action items: one reminder a day, in the morning (UTC).
app.conf.beat_schedule["postmortem-reminders"] = {
    "task": "postmortems.tasks.postmortem_reminders",
    "schedule": crontab(hour=8, minute=0),
}

# Runbooks past their review date: their owners are reminded once per review period.
app.conf.beat_schedule["runbooks-review-due"] = {
    "task": "runbooks.tasks.runbooks_review_due",
    "schedule": crontab(hour=7, minute=30),
}

# On-call handoffs: a shift change is announced within one interval (target: 30 s).
_HANDOFF_SECONDS = settings.TOCSIN_HANDOFF_SWEEP_SECONDS
app.conf.beat_schedule["oncall-handoff-sweep"] = {
    "task": "incidents.oncall_tasks.handoff_sweep",
    "schedule": _HANDOFF_SECONDS,
    "options": {"expires": max(_HANDOFF_SECONDS, 1.0)},
}


# The ingest inbox keeps applied rows TOCSIN_INBOX_KEEP_HOURS (for Opsgenie's request status);
# older ones are deleted once an hour, in batches. Pending rows are never purged.
app.conf.beat_schedule["inbox-purge"] = {
    "task": "incidents.alerts.inbox_purge",
    "schedule": crontab(minute=17),
    "options": {"expires": 3000},
}


def _task_packages() -> list[str]:
    """Every installed app and each of its sub-packages: autodiscovery finds their tasks.py."""
    from django.apps import apps

    packages = []
    for config in apps.get_app_configs():
        packages.append(config.name)
        root = Path(config.path)
        packages += [
            f"{config.name}.{child.name}"
            for child in sorted(root.iterdir())
            if (child / "tasks.py").is_file() and (child / "__init__.py").is_file()
        ]
    return packages


app.autodiscover_tasks(_task_packages)


@signals.worker_init.connect
@signals.worker_process_init.connect
def _warm_up(**_kwargs) -> None:
    """Pages are rendered inside an escalation step's transaction: load what rendering needs
    (URLconf, templates) before the first step, not during it."""
    from incidents.paging.outbox import warm_up

    warm_up()


def ensure_broker_dirs() -> None:
    """The filesystem transport needs its folders to exist before the first publish."""
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)


ensure_broker_dirs()
