"""Every incident's whole timeline, read-only; the incident page shows its latest entries."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from incidents.admin.bounded import IncidentFilter
from incidents.admin.readonly import ReadOnlyAdmin
from incidents.core import policy
from incidents.models import TimelineEvent


@admin.register(TimelineEvent)
class TimelineEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "incident_link", "actor_label", "kind", "message")
    list_display_links = None
    list_filter = (IncidentFilter, "kind")
    search_fields = ("message", "actor_label")
    list_select_related = ("incident",)
    ordering = ("at", "id")
    list_per_page = 100

    def has_view_permission(self, request, obj=None):
        # Entries name their incident and quote it: reading them is seeing incidents too.
        return super().has_view_permission(request, obj) and policy.may(
            request.user, policy.Action.VIEW, incident=obj.incident if obj else None
        )

    @admin.display(description="Incident", ordering="incident__number")
    def incident_link(self, event):
        url = reverse("admin:incidents_incident_change", args=[event.incident_id])
        return format_html('<a href="{}">{}</a>', url, event.incident.reference)
