"""The Celery app as a worker sees it: every task we schedule or queue is registered there."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Loads the task modules exactly as `celery worker` does (conf.imports + autodiscovery).
WORKER_VIEW = """
import json, django
django.setup()
from config.celery import app
app.loader.import_default_modules()
print(json.dumps({
    "tasks": sorted(app.tasks),
    "beat": {name: entry["task"] for name, entry in app.conf.beat_schedule.items()},
    "eager": app.conf.task_always_eager,
}))
"""


def worker_view() -> dict:
    result = subprocess.run(
        [sys.executable, "-c", WORKER_VIEW], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_beat_entry_and_queued_task_is_registered_in_a_worker():
    view = worker_view()
    registered = set(view["tasks"])
    assert view["beat"], "the beat schedule is empty"
    missing = {name: task for name, task in view["beat"].items() if task not in registered}
    assert missing == {}
    # Queued from lifecycle hooks and domain code rather than by beat.
    for task in ("incidents.statuspage.notify_subscribers",):
        assert task in registered
    assert view["eager"] is False
