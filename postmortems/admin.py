"""Post-mortem admin: write the review, move it to review and publish, export it.

Status moves and the start of a post-mortem go through postmortems.services with
actor=request.user; this module turns requests into those calls and outcomes into messages.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, Q
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from incidents.admin.people import PeoplePickers
from incidents.core.errors import DomainError
from incidents.core.formatting import badge, format_time, severity_badge
from incidents.models import Incident
from postmortems import services
from postmortems.choices import POSTMORTEM_TRANSITIONS, PostmortemStatus
from postmortems.export import (
    export_queryset,
    markdown_filename,
    postmortem_html,
    postmortem_markdown,
)
from postmortems.models import ActionItem, Postmortem, RootCauseCategory


class OverduePostmortemFilter(admin.SimpleListFilter):
    title = "due"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Overdue")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.overdue()
        return queryset


class OverdueActionFilter(OverduePostmortemFilter):
    pass


class MineActionFilter(admin.SimpleListFilter):
    title = "owner"
    parameter_name = "mine"

    def lookups(self, request, model_admin):
        return [("yes", "Mine")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(owner=request.user)
        return queryset


class MinePostmortemFilter(MineActionFilter):
    title = "author"

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(author=request.user)
        return queryset


class ActionItemInline(PeoplePickers, admin.TabularInline):
    model = ActionItem
    extra = 1
    fields = ["title", "owner", "due_date", "priority", "status", "tracker_url"]
    autocomplete_fields = ["owner"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


def _status_badge(status: str):
    return badge("postmortem", status, PostmortemStatus(status).label)


def _move(modeladmin, request, queryset, to: str) -> None:
    moved, refused = 0, []
    for postmortem in queryset.select_related("incident"):
        try:
            before = postmortem.status
            postmortem = services.postmortem_transition(
                postmortem=postmortem, to=to, actor=request.user
            )
            moved += before != postmortem.status
        except DomainError as error:
            refused.append(f"{postmortem}: {error.message}")
    if moved:
        label = PostmortemStatus(to).label.lower()
        modeladmin.message_user(request, f"{moved} post-mortem(s) moved to {label}.")
    for message in refused:
        modeladmin.message_user(request, message, messages.ERROR)


@admin.register(Postmortem)
class PostmortemAdmin(PeoplePickers, admin.ModelAdmin):
    list_display = [
        "incident_ref",
        "incident_title",
        "severity",
        "status_badge",
        "required",
        "author",
        "due",
        "open_actions",
    ]
    list_display_links = ["incident_ref", "incident_title"]
    list_filter = [
        "status",
        OverduePostmortemFilter,
        "required",
        MinePostmortemFilter,
        "root_cause_category",
    ]
    list_select_related = ["incident__severity", "author"]
    search_fields = ["incident__title", "summary", "root_cause"]
    date_hierarchy = "created_at"
    autocomplete_fields = ["incident", "author", "reviewers"]
    readonly_fields = [
        "incident",
        "status",
        "required",
        "due_at",
        "created_at",
        "published_at",
        "last_reminded_at",
    ]
    inlines = [ActionItemInline]
    actions = ["submit_for_review", "publish", "back_to_draft"]
    fieldsets = [
        (None, {"fields": ["incident", "status", "required", "due_at", "author", "reviewers"]}),
        ("Summary", {"fields": ["summary", "affected_users"]}),
        ("Timeline (UTC)", {"fields": ["timeline"]}),
        (
            "Root cause",
            {"fields": ["root_cause_category", "root_cause", "contributing_factors"]},
        ),
        ("Impact", {"fields": ["impact_users", "impact_business"]}),
        ("Resolution", {"fields": ["resolution"]}),
        ("Lessons learned", {"fields": ["went_well", "went_poorly"]}),
        ("Prevention", {"fields": ["prevention"]}),
        (
            "Record",
            {"fields": ["created_at", "published_at", "last_reminded_at"], "classes": ["collapse"]},
        ),
    ]

    def get_queryset(self, request):
        open_items = Count(
            "action_items", filter=Q(action_items__status__in=["open", "in_progress"])
        )
        return super().get_queryset(request).annotate(open_actions=open_items)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "timeline" and field is not None:
            field.widget.attrs.update(rows=16, cols=100)  # a whole incident, one line per event
        return field

    # --- adding: pick the incident, the domain drafts the rest --------------------------------

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["incident"]})]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else super().get_readonly_fields(request, obj)

    def get_inlines(self, request, obj):
        return [] if obj is None else super().get_inlines(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        # Starting one drafts it from the incident, as on resolve (timeline, due date, author).
        postmortem, _ = services.postmortem_draft(incident=obj.incident, actor=request.user)
        obj.pk = postmortem.pk

    def save_formset(self, request, form, formset, change):
        if formset.model is not ActionItem:
            return super().save_formset(request, form, formset, change)
        # Action items through the domain: marking one done stamps its completion time.
        for item in formset.save(commit=False):
            services.action_item_save(item=item, actor=request.user)
        for item in formset.deleted_objects:
            item.delete()
        return None

    @admin.display(description="Incident", ordering="incident__number")
    def incident_ref(self, obj):
        return obj.incident.reference

    @admin.display(description="Title", ordering="incident__title")
    def incident_title(self, obj):
        return obj.incident.title

    @admin.display(description="Severity", ordering="incident__severity__rank")
    def severity(self, obj):
        return severity_badge(obj.incident.severity)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return _status_badge(obj.status)

    @admin.display(description="Due", ordering="due_at")
    def due(self, obj):
        if obj.due_at is None:
            return "-"
        text = format_time(obj.due_at)
        if obj.is_overdue():
            return format_html('<span class="tocsin-overdue">{} (overdue)</span>', text)
        return text

    @admin.display(description="Open actions", ordering="open_actions")
    def open_actions(self, obj):
        return obj.open_actions

    @admin.action(description="Submit for review", permissions=["change"])
    def submit_for_review(self, request, queryset):
        _move(self, request, queryset, PostmortemStatus.IN_REVIEW)

    @admin.action(description="Publish", permissions=["publish"])
    def publish(self, request, queryset):
        _move(self, request, queryset, PostmortemStatus.PUBLISHED)

    @admin.action(description="Move back to draft", permissions=["change"])
    def back_to_draft(self, request, queryset):
        _move(self, request, queryset, PostmortemStatus.DRAFT)

    def has_publish_permission(self, request):
        return request.user.has_perm("postmortems.publish_postmortem")

    # --- extra pages ------------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        info = "postmortems_postmortem"
        return [
            path("<path:object_id>/markdown/", view(self.markdown_view), name=f"{info}_markdown"),
            path("<path:object_id>/print/", view(self.print_view), name=f"{info}_print"),
            path("<path:object_id>/move/", view(self.move_view), name=f"{info}_move"),
            path(
                "<path:object_id>/regenerate-timeline/",
                view(self.regenerate_view),
                name=f"{info}_regenerate",
            ),
            path("start/<int:incident_id>/", view(self.start_view), name=f"{info}_start"),
            *super().get_urls(),
        ]

    def _get_viewable(self, request, object_id) -> Postmortem:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            return export_queryset().get(pk=unquote(object_id))
        except (Postmortem.DoesNotExist, ValueError):
            raise Http404("No such post-mortem.") from None

    def markdown_view(self, request, object_id):
        postmortem = self._get_viewable(request, object_id)
        response = HttpResponse(
            postmortem_markdown(postmortem), content_type="text/markdown; charset=utf-8"
        )
        filename = markdown_filename(postmortem)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def print_view(self, request, object_id):
        postmortem = self._get_viewable(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "postmortem": postmortem,
            "body": postmortem_html(postmortem),
            "title": f"Post-mortem: {postmortem.incident.title}",
        }
        return TemplateResponse(request, "admin/postmortems/postmortem/print.html", context)

    def move_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        postmortem = get_object_or_404(Postmortem, pk=unquote(object_id))
        to = request.POST.get("to", "")
        needed = (
            self.has_publish_permission(request)
            if to == PostmortemStatus.PUBLISHED
            else self.has_change_permission(request)
        )
        if not needed:
            raise PermissionDenied
        if to not in PostmortemStatus.values:
            self.message_user(request, "Unknown post-mortem status.", messages.ERROR)
        else:
            _move(self, request, Postmortem.objects.filter(pk=postmortem.pk), to)
        return HttpResponseRedirect(
            reverse("admin:postmortems_postmortem_change", args=[postmortem.pk])
        )

    def regenerate_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        postmortem = get_object_or_404(Postmortem, pk=unquote(object_id))
        if not self.has_change_permission(request, postmortem):
            raise PermissionDenied
        services.postmortem_regenerate_timeline(postmortem=postmortem, actor=request.user)
        self.message_user(request, "Timeline regenerated from the incident.")
        return HttpResponseRedirect(
            reverse("admin:postmortems_postmortem_change", args=[postmortem.pk])
        )

    def start_view(self, request, incident_id):
        """POST: start (or open) the incident's post-mortem, whatever its severity's policy."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("postmortems.add_postmortem"):
            raise PermissionDenied
        incident = get_object_or_404(Incident, pk=incident_id)
        postmortem, created = services.postmortem_draft(incident=incident, actor=request.user)
        if created:
            self.message_user(request, f"Post-mortem of {incident.reference} started.")
        return HttpResponseRedirect(
            reverse("admin:postmortems_postmortem_change", args=[postmortem.pk])
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        obj = self.get_object(request, unquote(object_id))
        if obj is not None:
            moves = [
                (to, PostmortemStatus(to).label)
                for to in sorted(POSTMORTEM_TRANSITIONS[obj.status])
                if to != PostmortemStatus.PUBLISHED or self.has_publish_permission(request)
            ]
            extra_context["pm"] = {
                "markdown_url": reverse("admin:postmortems_postmortem_markdown", args=[obj.pk]),
                "print_url": reverse("admin:postmortems_postmortem_print", args=[obj.pk]),
                "move_url": reverse("admin:postmortems_postmortem_move", args=[obj.pk]),
                "regenerate_url": reverse("admin:postmortems_postmortem_regenerate", args=[obj.pk]),
                "incident_url": reverse("admin:incidents_incident_change", args=[obj.incident_id]),
                "status": _status_badge(obj.status),
                "moves": moves if self.has_change_permission(request) else [],
                "overdue": obj.is_overdue(),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def has_change_permission(self, request, obj=None):
        # Published post-mortems are the record: move one back to draft to edit it.
        if obj is not None and obj.status == PostmortemStatus.PUBLISHED:
            return False
        return super().has_change_permission(request, obj)


@admin.register(ActionItem)
class ActionItemAdmin(PeoplePickers, admin.ModelAdmin):
    list_display = ["title", "incident_ref", "owner", "due_date", "priority", "status", "overdue"]
    list_filter = [OverdueActionFilter, MineActionFilter, "status", "priority"]
    list_select_related = ["owner", "postmortem__incident"]
    search_fields = ["title", "postmortem__incident__title"]
    autocomplete_fields = ["owner"]
    raw_id_fields = ["postmortem"]
    readonly_fields = ["created_at", "completed_at", "last_reminded_at"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ["mark_done"]

    def save_model(self, request, obj, form, change):
        services.action_item_save(item=obj, actor=request.user)

    @admin.display(description="Incident", ordering="postmortem__incident__number")
    def incident_ref(self, obj):
        return obj.postmortem.incident.reference

    @admin.display(description="Overdue", boolean=True)
    def overdue(self, obj):
        return obj.is_overdue()

    @admin.action(description="Mark done", permissions=["change"])
    def mark_done(self, request, queryset):
        done = 0
        for item in queryset:
            if item.status != "done":
                services.action_item_set_status(item=item, status="done", actor=request.user)
                done += 1
        self.message_user(request, f"{done} action item(s) marked done.")


@admin.register(RootCauseCategory)
class RootCauseCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "description"]
    search_fields = ["name"]
