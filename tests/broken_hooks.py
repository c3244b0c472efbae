"""A required hook that fails on demand, registered the way the escalation engine registers its
own: what a broken escalation store does to a change (for the tests of required hooks)."""

import contextlib

from incidents.core import hooks


class BrokenHook:
    """Raises while `on`; registered as a required hook of `event` for a `with` block."""

    def __init__(self, event: str, what: str):
        self.event = event
        self.what = what
        self.on = True

    def __call__(self, *args) -> None:
        if self.on:
            raise RuntimeError("the escalation store is down")


@contextlib.contextmanager
def broken(event: str, what: str):
    hook = BrokenHook(event, what)
    hooks.register(event, hook, required=True, what=what)
    try:
        yield hook
    finally:
        hooks.unregister(event, hook)


def broken_start():
    return broken(hooks.INCIDENT_OPENED, "start the incident's escalation")


def broken_stop():
    return broken(hooks.INCIDENT_STATUS_CHANGED, "stop the incident's escalation")
