"""The incident admin: the page responders live in during an incident.

Every write goes through incidents.core.lifecycle with actor=request.user, so the timeline records
who did what; this module only turns requests into those calls and their outcome into messages.
"""

import re

from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, Q, Value, When
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.text import get_text_list

from incidents.admin.bounded import BoundedInline
from incidents.admin.display import target_states
from incidents.admin.escalation import IncidentEscalationInline, escalate_incidents
from incidents.admin.filters import MineFilter, StateFilter, UnacknowledgedFilter
from incidents.admin.forms import IncidentAddForm, MoveForm, PostUpdateForm
from incidents.admin.integrations import AlertInline
from incidents.admin.paging import may_page, page_someone_view
from incidents.admin.readonly import ReadOnlyAdminMixin
from incidents.core.choices import (
    ALLOWED_TRANSITIONS,
    WORKING_STATUSES,
    IncidentStatus,
    UpdateStatus,
)
from incidents.core.errors import DomainError
from incidents.core.formatting import (
    format_time,
    person_label,
    severity_badge,
    status_badge,
    update_phase,
)
from incidents.core.lifecycle import (
    EDITABLE_FIELDS,
    incident_acknowledge,
    incident_add_responder,
    incident_assign_commander,
    incident_create,
    incident_remove_responder,
    incident_reopen,
    incident_resolve,
    incident_set_services,
    incident_set_severity,
    incident_transition,
    incident_update_details,
    status_update_post,
)
from incidents.core.texts import humanize_duration, status_update_template
from incidents.core.timeline import actor_label
from incidents.models import Incident, Responder, StatusUpdate, TimelineEvent
from incidents.paging.fallback import nobody_paged, nobody_paged_reason, with_paging_state

# "INC-42", "inc42" or "42" in the search box finds incident number 42.
_REFERENCE = re.compile(r"(?:inc-?)?(\d{1,18})", re.IGNORECASE)


def _staff_users():
    return get_user_model().objects.filter(is_active=True, is_staff=True).order_by("username")


def _person_field(field):
    """Name people the way the timeline does, and drop the add/edit user shortcuts."""
    field.label_from_instance = person_label
    return field


def _plain_widget(formfield):
    # The add/change/view icons next to a select lead off into the catalogue mid-incident.
    widget = getattr(formfield, "widget", None)
    if isinstance(widget, RelatedFieldWidgetWrapper):
        widget.can_add_related = widget.can_change_related = False
        widget.can_delete_related = widget.can_view_related = False
    return formfield


def _incidents(count: int) -> str:
    return f"{count} incident" + ("" if count == 1 else "s")


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False


class TimelineInline(BoundedInline, ReadOnlyInline):
    """The latest of the audit log, oldest first, as the post-mortem will read it."""

    model = TimelineEvent
    verbose_name = "timeline entry"
    verbose_name_plural = "timeline"
    fields = ("time", "who", "kind", "message")
    readonly_fields = fields
    ordering = ("at", "id")
    classes = ("tocsin-timeline", "tocsin-inline")
    newest_order, oldest_first = ("-at", "-id"), True
    changelist = "admin:incidents_timelineevent_changelist"
    rows_name = "timeline entries"

    @admin.display(description="Time")
    def time(self, event):
        return format_time(event.at)

    @admin.display(description="Who")
    def who(self, event):
        return event.actor_label


class StatusUpdateInline(ReadOnlyInline):
    model = StatusUpdate
    verbose_name_plural = "status updates"
    classes = ("tocsin-inline",)
    fields = ("created_at", "status", "visibility", "author_name", "message")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")

    @admin.display(description="Audience")
    def visibility(self, update):
        return "Public" if update.public else "Internal"

    @admin.display(description="Author")
    def author_name(self, update):
        return actor_label(update.author) if update.author else None


class ResponderInline(admin.TabularInline):
    """Who works the incident. Saved through incident_add/remove_responder (see save_formset)."""

    model = Responder
    fields = ("user", "role", "added_at")
    readonly_fields = ("added_at",)
    extra = 0
    classes = ("tocsin-inline",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = _staff_users()
            return _person_field(super().formfield_for_foreignkey(db_field, request, **kwargs))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        return _plain_widget(super().formfield_for_dbfield(db_field, request, **kwargs))


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
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
    actions = ("acknowledge", "resolve", "take_command", "escalate_now")
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
        context = {"missed": missed, "nobody_paged": nobody_paged(incident)}
        html = render_to_string("admin/incidents/includes/targets.html", context)
        return mark_safe(html.strip())

    # --- permissions -------------------------------------------------------------------------

    def has_acknowledge_permission(self, request, obj=None):
        return request.user.has_perm("incidents.acknowledge_incident")

    def has_resolve_permission(self, request, obj=None):
        return request.user.has_perm("incidents.resolve_incident")

    def has_command_permission(self, request, obj=None):
        return request.user.has_perm("incidents.command_incident")

    def has_escalate_permission(self, request, obj=None):
        return request.user.has_perm("incidents.escalate_incident")

    def _may_move(self, request, incident, to: str) -> bool:
        user = request.user
        if to == IncidentStatus.ACKNOWLEDGED:
            return user.has_perm("incidents.acknowledge_incident")
        if to == IncidentStatus.RESOLVED:
            return user.has_perm("incidents.resolve_incident")
        if incident.status == IncidentStatus.TRIGGERED and to in WORKING_STATUSES:
            # Moving on from triggered acknowledges the incident on the way.
            return user.has_perms(["incidents.change_incident", "incidents.acknowledge_incident"])
        return user.has_perm("incidents.change_incident")

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Incidents are the audit trail: no bulk delete past the domain functions.
        actions.pop("delete_selected", None)
        return actions

    def changelist_view(self, request, extra_context=None):
        action = request.POST.get("action") if request.method == "POST" else None
        if action and action not in self.get_actions(request):
            raise PermissionDenied
        extra_context = {"title": "Incidents", **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    # --- actions -----------------------------------------------------------------------------

    def _apply_each(self, request, queryset, *, verb, already, is_already, apply):
        """Run `apply` per incident; report how many moved, which were no-ops, which refused."""
        done, skipped, refusals = 0, [], []
        for incident in queryset:
            if is_already(incident):
                skipped.append(incident.reference)
                continue
            try:
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

    # --- the add and change pages --------------------------------------------------------------

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (None, {"fields": ["title", "severity", "services", "commander"]}),
                ("What is happening", {"fields": ["summary", "impact", "started_at"]}),
            ]
        # Without the right to name a commander, show the name (not a link to the user admin).
        commander = (
            "commander" if request.user.has_perm("incidents.command_incident") else "commander_name"
        )
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
        if not request.user.has_perm("incidents.command_incident"):
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
            kwargs["queryset"] = _staff_users()
            return _person_field(super().formfield_for_foreignkey(db_field, request, **kwargs))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        return _plain_widget(super().formfield_for_dbfield(db_field, request, **kwargs))

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

    # --- status moves and updates (pages of their own) ---------------------------------------

    def get_urls(self):
        info = (self.opts.app_label, self.opts.model_name)
        return [
            path(
                "<path:object_id>/move/",
                self.admin_site.admin_view(self.move_view),
                name="{}_{}_move".format(*info),
            ),
            path(
                "<path:object_id>/take-command/",
                self.admin_site.admin_view(self.take_command_view),
                name="{}_{}_take_command".format(*info),
            ),
            path(
                "<path:object_id>/post-update/",
                self.admin_site.admin_view(self.post_update_view),
                name="{}_{}_post_update".format(*info),
            ),
            path(
                "<path:object_id>/page/",
                self.admin_site.admin_view(self.page_someone_view),
                name="{}_{}_page".format(*info),
            ),
            *super().get_urls(),
        ]

    def _get_incident(self, request, object_id) -> Incident:
        incident = self.get_object(request, unquote(object_id))
        if incident is None:
            raise Http404(f"No incident with id {object_id!r}.")
        return incident

    def _change_url(self, incident) -> str:
        return reverse("admin:incidents_incident_change", args=[incident.pk])

    def change_view(self, request, object_id, form_url="", extra_context=None):
        incident = self.get_object(request, unquote(object_id))
        if incident is not None:
            extra_context = {**(extra_context or {}), "panel": self._panel(request, incident)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _panel(self, request, incident) -> dict:
        """What the status panel above the change form shows and offers."""
        now = timezone.now()
        allowed = ALLOWED_TRANSITIONS[incident.status]
        is_resolved = incident.status == IncidentStatus.RESOLVED
        moves = [
            (status.value, status.label)
            for status in IncidentStatus
            if status in allowed
            and status != incident.status
            and not is_resolved
            and self._may_move(request, incident, status)
        ]
        if is_resolved:
            age = f"resolved after {humanize_duration(incident.age(now))}"
        else:
            age = f"open for {humanize_duration(incident.age(now))}"
        return {
            "severity": severity_badge(incident.severity),
            "status": status_badge(incident.status),
            "age": age,
            "commander": actor_label(incident.commander) if incident.commander else None,
            "targets": target_states(incident, now),
            "moves": moves,
            "can_reopen": is_resolved
            and self._may_move(request, incident, IncidentStatus.INVESTIGATING),
            "move_url": reverse("admin:incidents_incident_move", args=[incident.pk]),
            "take_command_url": reverse("admin:incidents_incident_take_command", args=[incident.pk])
            if self.has_command_permission(request) and incident.commander_id != request.user.pk
            else None,
            "post_update_url": reverse("admin:incidents_incident_post_update", args=[incident.pk])
            if request.user.has_perm("incidents.add_statusupdate")
            else None,
            "nobody_paged": nobody_paged_reason(incident),
            "page_url": reverse("admin:incidents_incident_page", args=[incident.pk])
            if may_page(request) and not is_resolved
            else None,
        }

    def page_someone_view(self, request, object_id):
        return page_someone_view(self, request, object_id)

    def move_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        incident = self._get_incident(request, object_id)
        form = MoveForm(request.POST)
        if not form.is_valid():
            self.message_user(request, "Choose one of the offered statuses.", messages.ERROR)
            return HttpResponseRedirect(self._change_url(incident))
        to, reason = form.cleaned_data["to"], form.cleaned_data["reason"]
        if not self._may_move(request, incident, to):
            raise PermissionDenied
        try:
            if incident.status == IncidentStatus.RESOLVED and to == IncidentStatus.INVESTIGATING:
                incident = incident_reopen(incident=incident, reason=reason, actor=request.user)
            else:
                incident = incident_transition(
                    incident=incident, to=to, reason=reason, actor=request.user
                )
        except DomainError as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            label = IncidentStatus(incident.status).label
            self.log_change(request, incident, f"Moved to {label}.")
            self.message_user(request, f"{incident.reference} is now {label}.", messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(incident))

    def take_command_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        incident = self._get_incident(request, object_id)
        if not self.has_command_permission(request):
            raise PermissionDenied
        incident_assign_commander(incident=incident, commander=request.user, actor=request.user)
        self.log_change(request, incident, "Took command.")
        self.message_user(request, f"You command {incident.reference}.", messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(incident))

    def _public_preview(self, incident, data) -> dict:
        """What the status page will show once this update is published."""
        from incidents.statuspage.selectors import public_title

        services = list(incident.services.filter(is_public=True))
        incident.public_services = services
        shown = Incident(public_title=data["public_title"] or incident.public_title)
        shown.public_services = services
        return {
            "title": public_title(shown),
            "status": UpdateStatus(data["status"]).label,
            "message": data["message"],
            "services": services,
        }

    def post_update_view(self, request, object_id):
        incident = self._get_incident(request, object_id)
        if not request.user.has_perm("incidents.add_statusupdate"):
            raise PermissionDenied
        preview = None
        if request.method == "POST":
            form = PostUpdateForm(request.POST)
            if form.is_valid() and "edit" not in request.POST:
                data = form.cleaned_data
                if data["public"] and not data["confirmed"]:
                    preview = self._public_preview(incident, data)
                else:
                    try:
                        update = status_update_post(
                            incident=incident,
                            message=data["message"],
                            status=data["status"],
                            public=data["public"],
                            public_title=data["public_title"] if data["public"] else None,
                            actor=request.user,
                        )
                    except DomainError as error:
                        form.add_error(
                            error.field if error.field in form.fields else None, str(error)
                        )
                    else:
                        audience = "a public" if update.public else "an internal"
                        self.message_user(
                            request,
                            f"Posted {audience} update on {incident.reference} "
                            f"({update.get_status_display()}).",
                            messages.SUCCESS,
                        )
                        return HttpResponseRedirect(self._change_url(incident))
        else:
            status = request.GET.get("status")
            if status not in UpdateStatus.values:
                status = update_phase(incident.status)
            public = request.GET.get("public") in ("1", "true", "on")
            form = PostUpdateForm(
                initial={
                    "status": status,
                    "public": public,
                    "public_title": incident.public_title,
                    "message": status_update_template(
                        incident=incident, status=status, public=public
                    ),
                }
            )
        base = reverse("admin:incidents_incident_post_update", args=[incident.pk])
        templates = [
            (label, f"{base}?status={value}&public=0", f"{base}?status={value}&public=1")
            for value, label in UpdateStatus.choices
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Post an update on {incident.reference}",
            "subtitle": incident.title,
            "original": incident,
            "form": form,
            "templates": templates,
            "preview": preview,
            "change_url": self._change_url(incident),
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/incidents/incident/post_update.html", context)
