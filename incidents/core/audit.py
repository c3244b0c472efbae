"""The audit record every configuration change leaves (`ConfigChange`), written by the domain
function that makes the change, with its `actor`.

`snapshot` reads the fields staff edit (no timestamps the database keeps, no tokens); addresses
are compared in full but stored masked, so the log never holds a credential.
"""

from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction

from incidents.core.contacts import mask_address
from incidents.core.timeline import actor_label
from incidents.models import ChangeAction, ConfigChange

# Stored masked: a webhook URL is its own credential, an email address is personal.
MASKED_FIELDS = frozenset({"address"})


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, models.Model):
        return str(value)
    return value


def _fields(model: type[models.Model]):
    for field in model._meta.concrete_fields:
        if field.primary_key or not field.editable or getattr(field, "auto_now", False):
            continue
        if getattr(field, "auto_now_add", False):
            continue
        yield field


def snapshot(obj: models.Model) -> dict[str, Any]:
    """The values of `obj`'s editable fields, as JSON (a related row as its name)."""
    values = {}
    for field in _fields(type(obj)):
        if field.is_relation:
            values[field.name] = (
                _plain(getattr(obj, field.name))
                if getattr(obj, field.attname) is not None
                else None
            )
        else:
            values[field.name] = _plain(getattr(obj, field.attname))
    return values


def _masked(values: dict[str, Any]) -> dict[str, Any]:
    return {
        name: mask_address(value) if name in MASKED_FIELDS and value else value
        for name, value in values.items()
    }


def audit_record(
    *,
    actor,
    obj: models.Model,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str = "",
) -> ConfigChange | None:
    """Record one change. For a change, only the fields that differ are kept; nothing is
    recorded when none differ and there is no `note`."""
    before, after = dict(before or {}), dict(after or {})
    if action == ChangeAction.CHANGED:
        moved = [name for name in after if before.get(name) != after[name]]
        before = {name: before.get(name) for name in moved}
        after = {name: after[name] for name in moved}
        if not moved and not note:
            return None
    user = actor if getattr(actor, "pk", None) else None
    return ConfigChange.objects.create(
        actor=user,
        actor_label=actor_label(user),
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        action=action,
        before=_masked(before),
        after=_masked(after),
        note=note[:255],
    )


def audit_added(*, actor, obj: models.Model, note: str = "") -> ConfigChange | None:
    return audit_record(
        actor=actor, obj=obj, action=ChangeAction.ADDED, after=snapshot(obj), note=note
    )


def audit_changed(
    *, actor, obj: models.Model, before: dict[str, Any], note: str = ""
) -> ConfigChange | None:
    """`before` is `snapshot(obj)` taken before the change."""
    return audit_record(
        actor=actor,
        obj=obj,
        action=ChangeAction.CHANGED,
        before=before,
        after=snapshot(obj),
        note=note,
    )


def audit_deleted(*, actor, obj: models.Model, note: str = "") -> ConfigChange | None:
    return audit_record(
        actor=actor, obj=obj, action=ChangeAction.DELETED, before=snapshot(obj), note=note
    )


# --- plain configuration rows: the domain function for rows without rules of their own -------


@transaction.atomic
def config_save(*, obj: models.Model, actor, exclude: list[str] | None = None) -> models.Model:
    """Validate and save a configuration row (added or changed), and audit it.

    For rows whose only rules are their fields' and the model's own (`full_clean`); rows with
    rules of their own have their own domain functions, which also audit.
    """
    adding = obj._state.adding or obj.pk is None
    before = {}
    if not adding:
        stored = type(obj)._default_manager.select_for_update().filter(pk=obj.pk).first()
        before = snapshot(stored) if stored is not None else {}
    obj.full_clean(exclude=exclude)
    obj.save()
    if adding:
        audit_added(actor=actor, obj=obj)
    else:
        audit_changed(actor=actor, obj=obj, before=before)
    return obj


@transaction.atomic
def config_delete(*, obj: models.Model, actor) -> None:
    """Delete a configuration row (and what cascades from it), and audit it."""
    audit_deleted(actor=actor, obj=obj)
    obj.delete()
