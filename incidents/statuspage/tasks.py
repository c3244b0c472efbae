"""Status-page producers: they queue outbox rows (idempotently) and send nothing themselves;
the outbox's delivery task sends, retries and logs each mail (incidents/paging/delivery.py)."""

from celery import shared_task
from django.db import DatabaseError

from incidents.statuspage.subscribers import (
    CONFIRM_TASK,
    subscriber_send_confirmation,
    subscribers_notify,
)


# A retry (the database was away) queues nobody twice: each row is keyed by update and subscriber.
@shared_task(
    name="incidents.statuspage.notify_subscribers",
    autoretry_for=(DatabaseError,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=8,
)
def statuspage_notify_subscribers(update_id: int) -> int:
    return subscribers_notify(update_id=update_id)


# Kept for messages published before confirmations were outbox rows.
@shared_task(name=CONFIRM_TASK)
def statuspage_send_confirmation(subscriber_id: int) -> bool:
    return subscriber_send_confirmation(subscriber_id=subscriber_id)
