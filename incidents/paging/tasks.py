"""Celery tasks. Each takes ids, loads its row, returns when the work is gone or done, and calls
one domain function. Timers are rows: these tasks make them prompt, the sweep makes them durable.
Their names are the ones published before the sub-packages (`incidents.tasks.*`), so messages
already in a broker still find them; `escalation_*` run on the `paging` queue, `notification_*`
(the outbox's one delivery task) on the `delivery` queue (config/celery.py)."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from incidents.paging import deadlines as timers
from incidents.paging import delivery as notify
from incidents.paging import engine as escalation
from incidents.paging import handoffs, sweep


def _republish_if_early(name: str, args: list, due_at) -> None:
    # An ETA task can arrive a little early (clock skew between hosts): wait for the row's time.
    if due_at is not None and due_at > timezone.now():
        timers.publish(name, args, due_at)


@shared_task(name="incidents.tasks.escalation_fire", ignore_result=True)
def escalation_fire(escalation_id: int, version: int) -> None:
    if not escalation.escalation_fire_due_for(
        escalation_id=escalation_id, expected_version=version
    ):
        _republish_if_early(
            escalation.FIRE_TASK,
            [escalation_id, version],
            escalation.escalation_pending(escalation_id, version),
        )


@shared_task(name="incidents.tasks.escalation_deadline", ignore_result=True)
def escalation_deadline(deadline_id: int, version: int) -> None:
    if not escalation.escalation_fire_deadline(deadline_id=deadline_id, expected_version=version):
        _republish_if_early(
            escalation.DEADLINE_TASK,
            [deadline_id, version],
            escalation.deadline_pending(deadline_id, version),
        )


@shared_task(name="incidents.tasks.escalation_sweep", ignore_result=True)
def escalation_sweep() -> dict:
    interval = float(settings.TOCSIN_TIMER_SWEEP_SECONDS)
    return sweep.escalation_sweep(
        budget_seconds=max(interval * 4, 10.0), grace_seconds=max(interval * 2, 2.0)
    )


@shared_task(name="incidents.tasks.notification_deliver", ignore_result=True)
def notification_deliver(notification_id: int) -> None:
    if notify.notification_deliver_and_due(notification_id=notification_id) is None:
        _republish_if_early(
            notify.DELIVER_TASK, [notification_id], notify.notification_due_at(notification_id)
        )


@shared_task(name="incidents.oncall_tasks.handoff_sweep", ignore_result=True)
def handoff_sweep() -> dict:
    """Announce shift changes since the last sweep, once each, by queueing outbox rows."""
    return handoffs.handoff_sweep()
