"""The incident admin: the page responders live in during an incident.

Its list and change form live here; the list's actions in incident_actions, the pages of their
own (move, take command, post update, page someone) in incident_pages, the inlines in
incident_inlines. What a user may see and do is incidents.core.policy's answer throughout.
Every write goes through incidents.core.lifecycle with actor=request.user, so the timeline records
who did what; this module only turns requests into those calls and their outcome into messages.
"""

import re

from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.auth import get_user_model
from django.db.models import Case, IntegerField, Q, Value, When
from django.http import HttpResponseRedirect
from django.template.loader import render_to_string
from django.utils import timezone

from incidents.admin.display import target_states
from incidents.admin.escalation import IncidentEscalationInline
from incidents.admin.filters import MineFilter, StateFilter, UnacknowledgedFilter
from incidents.admin.forms import IncidentAddForm
from incidents.admin.incident_actions import IncidentActionsMixin
from incidents.admin.incident_inlines import (
    ResponderInline,
    StatusUpdateInline,
    TimelineInline,
    person_field,
    plain_widget,
    staff_users,
)
from incidents.admin.incident_pages import IncidentPagesMixin
from incidents.admin.integrations import AlertInline
from incidents.core import policy
from incidents.core.choices import IncidentStatus
from incidents.core.formatting import format_time, severity_badge, status_badge
from incidents.core.hooks import HookFailed
from incidents.core.lifecycle import (
    EDITABLE_FIELDS,
    incident_add_responder,
    incident_assign_commander,
    incident_create,
    incident_remove_responder,
    incident_set_services,
    incident_set_severity,
    incident_update_details,
)
from incidents.core.texts import humanize_duration
from incidents.core.timeline import actor_label
from incidents.models import Incident, Responder
from incidents.paging.fallback import nobody_paged, nobody_paged_reason, with_paging_state

Action = policy.Action

# "INC-42", "inc42" or "42" in the search box finds incident number 42.
_REFERENCE = re.compile(r"(?:inc-?)?(\d{1,18})", re.IGNORECASE)


@admin.register(Incident)
class IncidentAdmin(IncidentActionsMixin, IncidentPagesMixin, admin.ModelAdmin):
    list_display = (
        "reference",
        "title",
        "severity_badge",
        "status_badge",
        "age",
        "commander_name",
        "services_list",
        "targets",
        "detected",
    )
    list_display_links = ("reference", "title")
    list_filter = (StateFilter, MineFilter, UnacknowledgedFilter, "severity", "status", "services")
    search_fields = ("title", "summary")
    search_help_text = "Search by reference (INC-42 or 42), title or summary."
    list_select_related = ("severity", "commander")
    date_hierarchy = "detected_at"
    autocomplete_fields = ("services",)
    list_per_page = 50
    inlines = (
        IncidentEscalationInline,
        ResponderInline,
        StatusUpdateInline,
        AlertInline,
        TimelineInline,
    )
    change_form_template = "admin/incidents/incident/change_form.html"

    # --- reading ---------------------------------------------------------------------------

    def get_queryset(self, request):
        return with_paging_state(super().get_queryset(request).prefetch_related("services"))

    def get_ordering(self, request):
        # Open incidents first, newest first; resolved ones sink to the bottom.
        resolved_last = Case(
            When(status=IncidentStatus.RESOLVED, then=Value(1)),
            default=Value(0),
            output_field=IntegerField(),
        )
        return (resolved_last.asc(), "-number")

    def get_search_results(self, request, queryset, search_term):
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        match = _REFERENCE.fullmatch(search_term.strip())
        if match:
            found = queryset.filter(Q(number=int(match[1])) | Q(pk__in=found.values("pk")))
        return found, may_have_duplicates

    @admin.display(description="Ref", ordering="number")
    def reference(self, incident):
        return incident.reference

    @admin.display(description="Severity", ordering="severity__rank")
    def severity_badge(self, incident):
        return severity_badge(incident.severity)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, incident):
        return status_badge(incident.status)

    @admin.display(description="Age", ordering="-detected_at")
    def age(self, incident):
        return humanize_duration(incident.age())

    @admin.display(description="Commander", ordering="commander__username")
    def commander_name(self, incident):
        return actor_label(incident.commander) if incident.commander else None

    @admin.display(description="Services")
    def services_list(self, incident):
        return ", ".join(service.name for service in incident.services.all()) or None

    @admin.display(description="Detected", ordering="detected_at")
    def detected(self, incident):
        return format_time(incident.detected_at)

    @admin.display(description="Targets")
    def targets(self, incident):
        missed = [state for state in target_states(incident, timezone.now()) if state.missed]
        return render_to_string(
            "admin/incidents/incident/targets_cell.html",
            {"missed": missed, "nobody_paged": nobody_paged(incident)},
        )

    # --- permissions: the policy's answers ------------------------------------------------

    def has_view_permission(self, request, obj=None):
        return policy.may(request.user, Action.VIEW, incident=obj)

    def has_add_permission(self, request):
        return policy.may(request.user, Action.CREATE)

    def has_change_permission(self, request, obj=None):
        return policy.may(request.user, Action.EDIT, incident=obj)

    def has_delete_permission(self, request, obj=None):
        return policy.may(request.user, Action.DELETE, incident=obj)

    # --- the add and change pages --------------------------------------------------------------

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            # Naming a commander is commanding: only for whom the policy lets command.
            first = ["title", "severity", "services"]
            if self.has_command_permission(request):
                first.append("commander")
            return [
                (None, {"fields": first}),
                ("What is happening", {"fields": ["summary", "impact", "started_at"]}),
            ]
        # Without the right to name a commander, show the name (not a link to the user admin).
        commander = "commander" if self.has_command_permission(request, obj) else "commander_name"
        return [
            (None, {"fields": ["title", ("severity", commander), "services"]}),
            ("What is happening", {"fields": ["summary", "impact", "public_title"]}),
            (
                "Times",
                {
                    "fields": [
                        "started_at",
                        "detected_at",
                        "acknowledged_at",
                        "acknowledge_breached_at",
                        "mitigated_at",
                        "resolved_at",
                    ]
                },
            ),
            (
                "Record",
                {"classes": ["collapse"], "fields": ["created_by", "created_at", "updated_at"]},
            ),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        fields = [
            "detected_at",
            "acknowledged_at",
            "acknowledge_breached_at",
            "mitigated_at",
            "resolved_at",
            "created_by",
            "created_at",
            "updated_at",
        ]
        if not self.has_command_permission(request, obj):
            fields.append("commander_name")
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = IncidentAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "commander":
            kwargs["queryset"] = staff_users()
            return person_field(super().formfield_for_foreignkey(db_field, request, **kwargs))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        return plain_widget(super().formfield_for_dbfield(db_field, request, **kwargs))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except HookFailed as failed:
            # A required hook (starting the escalation) failed: the save was rolled back whole.
            self.message_user(request, str(failed), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            created = incident_create(
                title=data["title"],
                severity=data["severity"],
                services=data.get("services") or (),
                summary=data.get("summary", ""),
                impact=data.get("impact", ""),
                commander=data.get("commander"),
                started_at=data.get("started_at"),
                actor=request.user,
            )
            # The admin goes on with `obj` (log entry, redirect): make it the created row.
            for field in Incident._meta.concrete_fields:
                setattr(obj, field.attname, getattr(created, field.attname))
            obj._state.adding = False
            obj._state.db = created._state.db
            return
        changed = set(form.changed_data)
        details = {name: data[name] for name in EDITABLE_FIELDS if name in changed}
        if details:
            incident_update_details(incident=obj, actor=request.user, **details)
        if "severity" in changed:
            incident_set_severity(incident=obj, severity=data["severity"], actor=request.user)
        if "commander" in changed:
            incident_assign_commander(incident=obj, commander=data["commander"], actor=request.user)
        if "services" in changed:
            incident_set_services(incident=obj, services=data["services"], actor=request.user)

    def response_add(self, request, obj, post_url_continue=None):
        # A new incident is worked at once: go to its page, not back to the list.
        if IS_POPUP_VAR in request.POST or "_addanother" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        if nobody_paged_reason(obj) is None:
            text = (
                f"Opened {obj.reference}. It is triggered and pages until someone acknowledges it."
            )
            self.message_user(request, text, messages.SUCCESS)
        else:
            text = f"Opened {obj.reference}, but nobody is being paged for it: page someone."
            self.message_user(request, text, messages.WARNING)
        return HttpResponseRedirect(self._change_url(obj))

    def save_related(self, request, form, formsets, change):
        # No form.save_m2m(): services go through incident_create / incident_set_services.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def save_formset(self, request, form, formset, change):
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if formset.model is not Responder:
            return  # the timeline and status updates are read-only here
        incident = form.instance
        for responder_form in formset.forms:
            if not responder_form.has_changed() and responder_form not in formset.deleted_forms:
                continue
            old = responder_form.instance if responder_form.instance.pk else None
            if responder_form in formset.deleted_forms:
                if old is not None:
                    incident_remove_responder(incident=incident, user=old.user, actor=request.user)
                    formset.deleted_objects.append(old)
                continue
            user, role = responder_form.cleaned_data["user"], responder_form.cleaned_data["role"]
            if old is not None and responder_form.initial.get("user") != user.pk:
                previous = get_user_model().objects.get(pk=responder_form.initial["user"])
                incident_remove_responder(incident=incident, user=previous, actor=request.user)
            responder = incident_add_responder(
                incident=incident, user=user, role=role, actor=request.user
            )
            if old is None:
                formset.new_objects.append(responder)
            else:
                formset.changed_objects.append((responder, responder_form.changed_data))
