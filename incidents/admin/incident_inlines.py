"""The incident page's inlines (responders, status updates, timeline) and its people pickers."""

from django.contrib import admin
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.contrib.auth import get_user_model

from incidents.admin.bounded import BoundedInline
from incidents.admin.readonly import ReadOnlyAdminMixin
from incidents.core import policy
from incidents.core.formatting import format_time, person_label
from incidents.core.timeline import actor_label
from incidents.models import Responder, StatusUpdate, TimelineEvent


def staff_users():
    return get_user_model().objects.filter(is_active=True, is_staff=True).order_by("username")


def person_field(field):
    """Name people the way the timeline does, and drop the add/edit user shortcuts."""
    field.label_from_instance = person_label
    return field


def plain_widget(formfield):
    # The add/change/view icons next to a select lead off into the catalogue mid-incident.
    widget = getattr(formfield, "widget", None)
    if isinstance(widget, RelatedFieldWidgetWrapper):
        widget.can_add_related = widget.can_change_related = False
        widget.can_delete_related = widget.can_view_related = False
    return formfield


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
            kwargs["queryset"] = staff_users()
            return person_field(super().formfield_for_foreignkey(db_field, request, **kwargs))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        return plain_widget(super().formfield_for_dbfield(db_field, request, **kwargs))

    # Who may add, change or remove responders is the policy's answer, as in the API.
    def has_add_permission(self, request, obj=None):
        return policy.may(request.user, policy.Action.ADD_RESPONDER, incident=obj)

    def has_change_permission(self, request, obj=None):
        return policy.may(request.user, policy.Action.CHANGE_RESPONDER, incident=obj)

    def has_delete_permission(self, request, obj=None):
        return policy.may(request.user, policy.Action.REMOVE_RESPONDER, incident=obj)

    def has_view_permission(self, request, obj=None):
        return policy.may(request.user, policy.Action.VIEW, incident=obj)
