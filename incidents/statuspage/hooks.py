"""Side effects of public updates: subscribers hear of them after the update is committed."""

from incidents import lifecycle, timers


@lifecycle.on_status_update_posted
def notify_subscribers(update_id: int) -> None:
    from incidents.models import StatusUpdate

    if StatusUpdate.objects.filter(pk=update_id, public=True).exists():
        # Never waits on the broker: a web request posting an update must not hang on Redis.
        timers.publish("incidents.statuspage.notify_subscribers", [update_id])
