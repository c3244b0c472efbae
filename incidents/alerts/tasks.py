"""Celery tasks of alert ingestion: the inbox's retention (scheduled by beat, config/celery.py)."""

from celery import shared_task

from incidents.alerts.inbox import inbox_purge as purge


@shared_task(name="incidents.alerts.inbox_purge", ignore_result=True)
def inbox_purge() -> int:
    """Delete applied inbox rows past TOCSIN_INBOX_KEEP_HOURS; how many."""
    return purge()
