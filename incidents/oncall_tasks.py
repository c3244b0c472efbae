"""On-call Celery tasks (registered through `imports` in config/celery.py)."""

from celery import shared_task

from incidents import handoffs


@shared_task(ignore_result=True)
def handoff_sweep() -> dict:
    """Announce shift changes since the last sweep, once each, and deliver pending messages."""
    return handoffs.handoff_sweep()
