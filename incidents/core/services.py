"""Writes to the catalogue (services), and the audit record every configuration change leaves.

The audit record is Django's admin log (`LogEntry`): the admin writes one for its own
changes, so a change made through the API shows in the same object history, with its actor.
"""

import json
from collections.abc import Iterable
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.db import models, transaction

from incidents.core import hooks
from incidents.models import Service


def config_audit(*, actor, obj: models.Model, added: bool, fields: Iterable[str] = ()) -> None:
    """Record that `actor` added `obj`, or changed its `fields` (nothing without a user actor:
    commands and the system leave no admin history)."""
    if actor is None or not getattr(actor, "pk", None):
        return
    if added:
        message = [{"added": {}}]
    else:
        names = [str(obj._meta.get_field(name).verbose_name) for name in fields]
        message = [{"changed": {"fields": names}}] if names else []
    LogEntry.objects.log_actions(
        user_id=actor.pk,
        queryset=[obj],
        action_flag=ADDITION if added else CHANGE,
        change_message=json.dumps(message),
        single_object=True,
    )


# The fields a service is edited by: the admin's form and the API's serializer offer these.
SERVICE_FIELDS = (
    "name",
    "slug",
    "description",
    "owner",
    "dashboard_url",
    "logs_url",
    "escalation_policy",
    "is_public",
    "public_name",
    "public_description",
    "status_order",
)


def _unknown(fields: dict[str, Any]) -> None:
    extra = set(fields) - set(SERVICE_FIELDS)
    if extra:
        raise TypeError(f"Not a service field: {', '.join(sorted(extra))}")


@transaction.atomic
def service_create(*, actor, name: str, slug: str, audit: bool = True, **fields: Any) -> Service:
    """Add a service to the catalogue (`fields`: any of SERVICE_FIELDS).

    `audit=False` is for the admin, which writes its own log entry for the same change.
    """
    _unknown(fields)
    service = Service(name=name, slug=slug, **fields)
    service.full_clean()
    service.save()
    if audit:
        config_audit(actor=actor, obj=service, added=True)
    return service


@transaction.atomic
def service_update(*, service: Service, actor, audit: bool = True, **changes: Any) -> Service:
    """Change some of a service's fields; a no-op (and no audit row) when nothing differs."""
    _unknown(changes)
    service = Service.objects.select_for_update().get(pk=service.pk)
    changed = [name for name, value in changes.items() if getattr(service, name) != value]
    for name in changed:
        setattr(service, name, changes[name])
    if not changed:
        return service
    service.full_clean()
    service.save(update_fields=changed)
    if audit:
        config_audit(actor=actor, obj=service, added=False, fields=changed)
    if "escalation_policy" in changed and service.escalation_policy_id:
        # Its incidents that nothing covered start escalating once this commits.
        hooks.fire(hooks.SERVICE_POLICY_CHANGED, service.pk)
    return service
