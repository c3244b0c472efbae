"""Side effects of public updates: subscribers hear of them after the update is committed."""

import logging

from incidents import lifecycle

logger = logging.getLogger(__name__)


@lifecycle.on_status_update_posted
def notify_subscribers(update_id: int) -> None:
    from incidents.models import StatusUpdate
    from incidents.statuspage.tasks import statuspage_notify_subscribers

    if not StatusUpdate.objects.filter(pk=update_id, public=True).exists():
        return
    try:
        statuspage_notify_subscribers.delay(update_id)
    except Exception:  # a broker outage must never fail the update that was just committed
        logger.exception("Could not queue subscriber emails for status update %s", update_id)
