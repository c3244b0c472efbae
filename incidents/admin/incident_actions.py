"""The incident list's actions: acknowledge, resolve, take command, escalate now.

Which of them a user is offered, and so which a POST may run, is the policy's answer
(`has_<name>_permission` below); each action calls its domain function per incident.
"""

from django.contrib import admin, messages
from django.utils.text import get_text_list

from incidents.admin.action_guard import RefuseUnofferedActions
from incidents.admin.escalation import escalate_incidents
from incidents.core import policy
from incidents.core.choices import IncidentStatus
from incidents.core.errors import DomainError
from incidents.core.lifecycle import (
    incident_acknowledge,
    incident_assign_commander,
    incident_resolve,
)

Action = policy.Action


def _incidents(count: int) -> str:
    return f"{count} incident" + ("" if count == 1 else "s")


class IncidentActionsMixin(RefuseUnofferedActions):
    """Mixed into IncidentAdmin."""

    actions = ("acknowledge", "resolve", "take_command", "escalate_now")

    def has_acknowledge_permission(self, request, obj=None):
        return policy.may(request.user, Action.ACKNOWLEDGE, incident=obj)

    def has_resolve_permission(self, request, obj=None):
        return policy.may(request.user, Action.RESOLVE, incident=obj)

    def has_command_permission(self, request, obj=None):
        return policy.may(request.user, Action.COMMAND, incident=obj)

    def has_escalate_permission(self, request, obj=None):
        return policy.may(request.user, Action.ESCALATE_NOW, incident=obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Incidents are the audit trail: no bulk delete past the domain functions.
        actions.pop("delete_selected", None)
        return actions

    def changelist_view(self, request, extra_context=None):
        extra_context = {"title": "Incidents", **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def _apply_each(self, request, queryset, *, action, verb, already, is_already, apply):
        """Run `apply` per incident; report how many moved, which were no-ops, which refused."""
        done, skipped, refusals = 0, [], []
        for incident in queryset:
            if is_already(incident):
                skipped.append(incident.reference)
                continue
            try:
                policy.check(request.user, action, incident=incident)
                apply(incident)
            except DomainError as error:
                refusals.append(str(error))
            else:
                done += 1
                self.log_change(request, incident, f"{verb} from the incident list.")
        parts = [f"{verb} {_incidents(done)}."]
        if skipped:
            were = "was" if len(skipped) == 1 else "were"
            parts.append(f"{get_text_list(skipped, 'and')} {were} {already}.")
        parts += refusals
        level = messages.WARNING if refusals else messages.SUCCESS
        self.message_user(request, " ".join(parts), level)

    @admin.action(description="Acknowledge selected incidents", permissions=["acknowledge"])
    def acknowledge(self, request, queryset):
        self._apply_each(
            request,
            queryset,
            action=Action.ACKNOWLEDGE,
            verb="Acknowledged",
            already="already acknowledged",
            is_already=lambda i: i.is_open and i.status != IncidentStatus.TRIGGERED,
            apply=lambda i: incident_acknowledge(incident=i, actor=request.user),
        )

    @admin.action(description="Resolve selected incidents", permissions=["resolve"])
    def resolve(self, request, queryset):
        self._apply_each(
            request,
            queryset,
            action=Action.RESOLVE,
            verb="Resolved",
            already="already resolved",
            is_already=lambda i: i.status == IncidentStatus.RESOLVED,
            apply=lambda i: incident_resolve(incident=i, actor=request.user),
        )

    @admin.action(description="Take command of selected incidents", permissions=["command"])
    def take_command(self, request, queryset):
        self._apply_each(
            request,
            queryset,
            action=Action.COMMAND,
            verb="Took command of",
            already="already commanded by you",
            is_already=lambda i: i.commander_id == request.user.pk,
            apply=lambda i: incident_assign_commander(
                incident=i, commander=request.user, actor=request.user
            ),
        )

    @admin.action(description="Escalate now (page the next step)", permissions=["escalate"])
    def escalate_now(self, request, queryset):
        escalate_incidents(self, request, queryset)
