from celery import shared_task

from incidents.statuspage.subscribers import (
    CONFIRM_TASK,
    subscriber_send_confirmation,
    subscribers_notify,
)


@shared_task(
    name="incidents.statuspage.notify_subscribers",
    autoretry_for=(OSError,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=8,
)
def statuspage_notify_subscribers(update_id: int) -> int:
    return subscribers_notify(update_id=update_id)


@shared_task(
    name=CONFIRM_TASK,
    autoretry_for=(OSError,),
    retry_backoff=30,
    retry_backoff_max=900,
    max_retries=12,
)
def statuspage_send_confirmation(subscriber_id: int) -> bool:
    return subscriber_send_confirmation(subscriber_id=subscriber_id)
