"""Side effects of public updates: subscribers hear of them after the update is committed."""

from incidents.core import hooks
from incidents.paging import deadlines as timers


def register_hooks() -> None:
    """Called from IncidentsConfig.ready()."""
    hooks.register(hooks.STATUS_UPDATE_POSTED, notify_subscribers)


def notify_subscribers(update_id: int) -> None:
    from incidents.models import StatusUpdate

    if StatusUpdate.objects.filter(pk=update_id, public=True).exists():
        # After the commit, so the worker finds the update; never waits on the broker.
        timers.publish_on_commit("incidents.statuspage.notify_subscribers", [update_id])
