from celery import shared_task

from postmortems.reminders import postmortem_reminders_send


@shared_task(acks_late=True, time_limit=600)
def postmortem_reminders() -> dict[str, int]:
    """Daily: remind people of overdue post-mortems and action items (once a day at most)."""
    return postmortem_reminders_send()
