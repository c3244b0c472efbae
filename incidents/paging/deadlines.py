"""Publishing timer tasks: prompt when the broker answers, harmless when it does not.

Every timer is a row with a deadline; the ETA task published here only makes it fire on time.
A publish that fails is logged and forgotten: the beat sweep fires the row one sweep later
(durable first, prompt second).
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from celery import current_app, current_task
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _background() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tocsin-publish")
        return _executor


def _send(name: str, args: list, eta: datetime | None) -> None:
    if eta is not None and eta <= timezone.now():
        eta = None  # due already: queue it plainly rather than as a timer
    try:
        current_app.send_task(name, args=args, eta=eta)
    except Exception:
        logger.warning(
            "Could not publish %s%s; the timer sweep will fire it.", name, args, exc_info=True
        )


def publish(name: str, args: list, eta: datetime | None = None) -> None:
    """Publish now. Outside a worker (a web request, a hook) it never waits for the broker."""
    if current_task and getattr(current_task.request, "id", None):
        _send(name, args, eta)
    else:
        _background().submit(_send, name, args, eta)


def publish_on_commit(name: str, args: list, eta: datetime | None = None) -> None:
    publish_many_on_commit([(name, args, eta)])


def _send_all(tasks: list[tuple[str, list, datetime | None]]) -> None:
    for name, args, eta in tasks:
        _send(name, args, eta)


def publish_many_on_commit(tasks: list[tuple[str, list, datetime | None]]) -> None:
    """Publish (name, args, eta) tasks once the transaction commits: one callback for them
    all, so a batch that starts thousands of timers queues one job, not thousands."""
    if not tasks:
        return
    if len(tasks) == 1:
        name, args, eta = tasks[0]
        transaction.on_commit(lambda: publish(name, args, eta))
        return
    tasks = list(tasks)

    def publish_all() -> None:
        if current_task and getattr(current_task.request, "id", None):
            _send_all(tasks)
        else:
            _background().submit(_send_all, tasks)

    transaction.on_commit(publish_all)
