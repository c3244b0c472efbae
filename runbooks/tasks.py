from celery import shared_task

from runbooks.services import runbooks_remind_review


@shared_task(name="runbooks.tasks.runbooks_review_due")
def runbooks_review_due() -> int:
    """Daily: remind the owners of runbooks past their review date (once per review period)."""
    return len(runbooks_remind_review())
