"""Writes to the catalogue (services). Each leaves an audit record (`incidents.core.audit`)."""

from typing import Any

from django.db import transaction

from incidents.core import hooks
from incidents.core.audit import audit_added, audit_changed, audit_deleted, snapshot
from incidents.models import Service

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
def service_create(*, actor, name: str, slug: str, **fields: Any) -> Service:
    """Add a service to the catalogue (`fields`: any of SERVICE_FIELDS)."""
    _unknown(fields)
    service = Service(name=name, slug=slug, **fields)
    service.full_clean()
    service.save()
    audit_added(actor=actor, obj=service)
    return service


@transaction.atomic
def service_update(*, service: Service, actor, **changes: Any) -> Service:
    """Change some of a service's fields; a no-op (and no audit row) when nothing differs."""
    _unknown(changes)
    service = Service.objects.select_for_update().get(pk=service.pk)
    before = snapshot(service)
    changed = [name for name, value in changes.items() if getattr(service, name) != value]
    for name in changed:
        setattr(service, name, changes[name])
    if not changed:
        return service
    service.full_clean()
    service.save(update_fields=changed)
    audit_changed(actor=actor, obj=service, before=before)
    if "escalation_policy" in changed and service.escalation_policy_id:
        # Its incidents that nothing covered start escalating once this commits.
        hooks.fire(hooks.SERVICE_POLICY_CHANGED, service.pk)
    return service


@transaction.atomic
def service_delete(*, service: Service, actor) -> None:
    """Remove a service from the catalogue (its incidents stay, without it)."""
    audit_deleted(actor=actor, obj=service)
    service.delete()
