"""A person's own paging settings: their contact methods and notification rules.

Anyone may change their own; changing someone else's needs the model permission (managers keep
everyone's). Each function takes keyword-only arguments, runs in one transaction and raises a
`DomainError` naming the field at fault. Every change leaves an audit record with its actor.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from incidents.core.audit import audit_added, audit_changed, audit_deleted, config_save, snapshot
from incidents.core.contacts import check_person_contact
from incidents.core.errors import DomainError
from incidents.core.timeline import actor_label
from incidents.models import ContactMethod, Notification, NotificationReason, NotificationRule
from incidents.paging import delivery, outbox

MAX_DELAY = timedelta(hours=24)


def _check_actor(*, owner, actor, perm: str) -> None:
    if actor is not None and actor.pk != owner.pk and not actor.has_perm(perm):
        raise DomainError("You can only change your own paging settings.", field="user")


def _check_delay(delay: timedelta) -> None:
    if delay < timedelta(0):
        raise DomainError("The delay cannot be negative.", field="delay")
    if delay > MAX_DELAY:
        raise DomainError("The delay is at most 24 hours.", field="delay")


@transaction.atomic
def contact_method_add(
    *,
    user,
    kind: str,
    address: str,
    label: str = "",
    notify_after: timedelta | None = None,
    actor=None,
) -> ContactMethod:
    """Add a contact method (`delivery.contact_method_create`), with its audit record."""
    _check_actor(owner=user, actor=actor, perm="incidents.add_contactmethod")
    method = delivery.contact_method_create(
        user=user, kind=kind, address=address, label=label, notify_after=notify_after
    )
    audit_added(actor=actor, obj=method)
    return method


@transaction.atomic
def contact_method_update(
    *, method: ContactMethod, kind: str, address: str, label: str = "", actor=None
) -> ContactMethod:
    _check_actor(owner=method.user, actor=actor, perm="incidents.change_contactmethod")
    address = (address or "").strip()
    check_person_contact(kind, address)
    clash = ContactMethod.objects.filter(user=method.user, kind=kind, address=address)
    if clash.exclude(pk=method.pk).exists():
        raise DomainError(
            f"{method.user.get_username()} already has this {kind} address.", field="address"
        )
    locked = ContactMethod.objects.select_for_update().get(pk=method.pk)
    before = snapshot(locked)
    locked.kind, locked.address, locked.label = kind, address, label
    locked.save(update_fields=["kind", "address", "label"])
    audit_changed(actor=actor, obj=locked, before=before)
    return locked


@transaction.atomic
def contact_method_delete(*, method: ContactMethod, actor=None) -> None:
    """Removes the method and the rules that use it."""
    _check_actor(owner=method.user, actor=actor, perm="incidents.delete_contactmethod")
    audit_deleted(actor=actor, obj=method)
    ContactMethod.objects.filter(pk=method.pk).delete()


@transaction.atomic
def notification_rule_create(
    *, user, contact_method: ContactMethod, delay: timedelta, actor=None
) -> NotificationRule:
    """A rule at the end of the person's list: use `contact_method` `delay` after a page."""
    _check_actor(owner=user, actor=actor, perm="incidents.add_notificationrule")
    if contact_method.user_id != user.pk:
        raise DomainError("Use one of your own contact methods.", field="contact_method")
    _check_delay(delay)
    order = NotificationRule.objects.filter(user=user).count()
    rule = NotificationRule.objects.create(
        user=user, contact_method=contact_method, order=order, delay=delay
    )
    audit_added(actor=actor, obj=rule)
    return rule


@transaction.atomic
def notification_rule_update(
    *, rule: NotificationRule, contact_method: ContactMethod, delay: timedelta, actor=None
) -> NotificationRule:
    _check_actor(owner=rule.user, actor=actor, perm="incidents.change_notificationrule")
    if contact_method.user_id != rule.user_id:
        raise DomainError("Use one of your own contact methods.", field="contact_method")
    _check_delay(delay)
    locked = NotificationRule.objects.select_for_update().get(pk=rule.pk)
    before = snapshot(locked)
    locked.contact_method, locked.delay = contact_method, delay
    locked.save(update_fields=["contact_method", "delay"])
    audit_changed(actor=actor, obj=locked, before=before)
    return locked


@transaction.atomic
def notification_rule_delete(*, rule: NotificationRule, actor=None) -> None:
    _check_actor(owner=rule.user, actor=actor, perm="incidents.delete_notificationrule")
    audit_deleted(actor=actor, obj=rule)
    NotificationRule.objects.filter(pk=rule.pk).delete()


@transaction.atomic
def notification_rule_save(*, rule: NotificationRule, actor=None) -> NotificationRule:
    """Add or change a rule edited as a whole (the contact method admin's inline)."""
    _check_actor(owner=rule.user, actor=actor, perm="incidents.change_notificationrule")
    if rule.contact_method.user_id != rule.user_id:
        raise DomainError("Use one of the person's own contact methods.", field="contact_method")
    _check_delay(rule.delay)
    return config_save(obj=rule, actor=actor)


def delivery_log_url(notification: Notification | None = None) -> str:
    """The delivery log (filtered to one row's id when given), as an absolute URL."""
    path = reverse("admin:incidents_notification_changelist")
    if notification is not None:
        path += f"?id__exact={notification.pk}"
    return settings.TOCSIN_BASE_URL + path


@transaction.atomic
def contact_method_test(*, method: ContactMethod, actor=None) -> Notification:
    """Queue a test notification to `method` now, through the outbox like any page: its row in
    the delivery log says whether it arrived (or what the provider answered)."""
    _check_actor(owner=method.user, actor=actor, perm="incidents.change_contactmethod")
    owner = method.user.get_username()
    context = {
        "method": str(method),
        "owner": owner,
        "actor": actor_label(actor, None),
        "log_url": delivery_log_url(),
    }
    row = outbox.message(
        key=f"test:method:{method.pk}:{uuid.uuid4().hex}",
        reason=NotificationReason.TEST,
        kind=method.kind,
        address=method.address,
        recipient=owner,
        subject=render_to_string("messages/test_subject.txt", context).strip(),
        body=render_to_string("messages/test.txt", context).strip(),
        user=method.user,
    )
    Notification.objects.filter(pk=row.pk).update(contact_method=method)
    row.contact_method = method
    return row
