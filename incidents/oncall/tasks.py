"""On-call Celery tasks. The name is the one published before the sub-packages."""

from celery import shared_task

from incidents.paging import handoffs


@shared_task(name="incidents.oncall_tasks.handoff_sweep", ignore_result=True)
def handoff_sweep() -> dict:
    """Announce shift changes since the last sweep, once each, and deliver pending messages."""
    return handoffs.handoff_sweep()
