"""The catalogue: services that can break and the severities that set response targets."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Count, Q
from django.utils.html import format_html, format_html_join

from incidents.admin.audit import DomainAdmin
from incidents.core.choices import IncidentStatus
from incidents.core.formatting import severity_badge
from incidents.core.services import (
    SERVICE_FIELDS,
    service_create,
    service_delete,
    service_update,
)
from incidents.core.texts import humanize_duration
from incidents.models import Service, Severity


@admin.register(Service)
class ServiceAdmin(DomainAdmin):
    list_display = (
        "name",
        "slug",
        "owner",
        "escalation_policy",
        "open_incidents",
        "is_public",
        "links",
    )
    list_filter = ("is_public",)
    search_fields = ("name", "slug", "description")
    list_select_related = ("owner", "escalation_policy")
    prepopulated_fields = {"slug": ("name",)}
    # Links pasted without a scheme are dashboards and log viewers: they speak HTTPS.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ["name", "slug", "owner", "description"]}),
        ("Paging", {"fields": ["escalation_policy"]}),
        ("Where to look", {"fields": ["dashboard_url", "logs_url"]}),
        (
            "Status page",
            {"fields": ["is_public", "public_name", "public_description", "status_order"]},
        ),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                open_count=Count("incidents", filter=~Q(incidents__status=IncidentStatus.RESOLVED))
            )
        )

    def domain_save(self, request, obj, form, change):
        # Through the domain, like the API (which also writes the audit record).
        fields = {name: getattr(obj, name) for name in SERVICE_FIELDS}
        if change:
            saved = service_update(service=obj, actor=request.user, **fields)
        else:
            saved = service_create(actor=request.user, **fields)
        obj.pk = saved.pk

    def domain_delete(self, request, obj):
        service_delete(service=obj, actor=request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "owner":
            kwargs["queryset"] = (
                get_user_model().objects.filter(is_active=True).order_by("username")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="Open incidents", ordering="open_count")
    def open_incidents(self, service):
        return service.open_count

    @admin.display(description="Links")
    def links(self, service):
        pairs = [
            (url, label)
            for url, label in ((service.dashboard_url, "dashboard"), (service.logs_url, "logs"))
            if url
        ]
        return format_html_join(
            " · ", '<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>', pairs
        )


def _duration(value):
    return humanize_duration(value) if value else None


@admin.register(Severity)
class SeverityAdmin(DomainAdmin):
    list_display = (
        "badge",
        "name",
        "acknowledge_target",
        "resolve_target",
        "update_cadence",
        "pages",
        "postmortem",
        "postmortem_due",
    )
    list_display_links = ("badge", "name")
    ordering = ("rank",)
    fieldsets = [
        (None, {"fields": ["key", "name", "rank", "color", "description"]}),
        (
            "Response targets",
            {"fields": ["acknowledge_within", "resolve_within", "update_every", "pages"]},
        ),
        ("Post-mortem", {"fields": ["postmortem", "postmortem_due_within"]}),
    ]

    @admin.display(description="Severity", ordering="rank")
    def badge(self, severity):
        return severity_badge(severity)

    @admin.display(description="Acknowledge within", ordering="acknowledge_within")
    def acknowledge_target(self, severity):
        return _duration(severity.acknowledge_within)

    @admin.display(description="Resolve within", ordering="resolve_within")
    def resolve_target(self, severity):
        return _duration(severity.resolve_within)

    @admin.display(description="Updates every")
    def update_cadence(self, severity):
        return _duration(severity.update_every)

    @admin.display(description="Post-mortem due")
    def postmortem_due(self, severity):
        if not severity.postmortem_due_within:
            return None
        return format_html("{} after resolution", _duration(severity.postmortem_due_within))
