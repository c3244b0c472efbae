"""Side effects of public updates: subscribers hear of them through the outbox.

The hook queues one outbox row per subscriber inside the transaction that posts the update, so
the mail is as durable as the update itself: no bare broker message to lose.
"""

from incidents.core import hooks


def register_hooks() -> None:
    """Called from IncidentsConfig.ready()."""
    hooks.register(hooks.STATUS_UPDATE_POSTED, notify_subscribers)


def notify_subscribers(update_id: int) -> None:
    from incidents.statuspage.subscribers import subscribers_notify

    subscribers_notify(update_id=update_id)
