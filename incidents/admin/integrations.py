"""Integrations (alert sources) and the alerts they sent.

Tokens are shown once, on a page rendered in the response that created or rotated them:
never in a message, a cookie or the session.
"""

from django.conf import settings
from django.contrib import admin
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from incidents.admin.audit import DomainAdmin
from incidents.admin.bounded import BoundedInline, IncidentFilter
from incidents.admin.readonly import ReadOnlyAdmin, ReadOnlyAdminMixin
from incidents.alerts.integrations import (
    integration_delete,
    integration_endpoint,
    integration_rotate_token,
    integration_save,
)
from incidents.alerts.limits import describe_limit, guard_state, requests_last_minute
from incidents.models import Alert, Integration

TOKEN_TEMPLATE = "admin/incidents/integration/token_once.html"
SENDER_SETUP_TEMPLATE = "admin/incidents/integration/sender_setup.html"
RAW_PAYLOAD_PERMISSION = "incidents.change_integration"


@admin.register(Integration)
class IntegrationAdmin(DomainAdmin):
    list_display = (
        "name",
        "kind",
        "service",
        "enabled",
        "last_alert_at",
        "alert_count",
        "rate_limit_per_second",
        "token_hint",
    )
    list_filter = ("kind", "enabled", "service")
    search_fields = ("name",)
    list_select_related = ("service",)
    autocomplete_fields = ("service",)
    readonly_fields = (
        "token_hint",
        "created_at",
        "last_alert_at",
        "alert_count",
        "intake_now",
        "sender_setup",
    )
    actions = ("rotate_token",)
    fieldsets = [
        (None, {"fields": ["name", "kind", "enabled"]}),
        (
            "Incidents",
            {
                "fields": [
                    "service",
                    "severity",
                    "severity_mapping",
                    "resolve_incident_on_alert_resolve",
                ]
            },
        ),
        (
            "Intake",
            {
                "fields": [
                    "rate_limit_per_second",
                    "rate_limit_burst",
                    "intake_now",
                    "token_hint",
                    "created_at",
                    "last_alert_at",
                    "alert_count",
                ]
            },
        ),
        ("Sending alerts", {"fields": ["sender_setup"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return [(name, options) for name, options in fieldsets if name != "Sending alerts"]
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        # The kind decides the token's shape and the endpoint: fixed once created.
        return (*self.readonly_fields, "kind") if obj else self.readonly_fields

    @admin.display(description="Token")
    def token_hint(self, integration):
        return f"{integration.token_prefix}…" if integration.token_prefix else "—"

    @admin.display(description="Limits now")
    def intake_now(self, integration):
        if not integration.pk:
            return "—"
        guard = guard_state()
        return format_html(
            "Limit: {}.<br>Requests accepted in the last minute: {}.<br>Server guard: {}.",
            describe_limit(integration),
            requests_last_minute(integration),
            f"ON, every ingestion request is refused with 429 ({guard.describe()})"
            if guard.on
            else f"off ({guard.describe()})",
        )

    @admin.display(description="Endpoint and example")
    def sender_setup(self, integration):
        if not integration.pk:
            return "—"
        return render_to_string(
            SENDER_SETUP_TEMPLATE,
            {
                "integration": integration,
                "endpoint": integration_endpoint(integration),
                "base_url": settings.TOCSIN_BASE_URL,
            },
        )

    def domain_save(self, request, obj, form, change):
        token = integration_save(integration=obj, actor=request.user)
        if token is not None:
            request._tocsin_new_token = token

    def domain_delete(self, request, obj):
        integration_delete(integration=obj, actor=request.user)

    def response_add(self, request, obj, post_url_continue=None):
        token = getattr(request, "_tocsin_new_token", None)
        if token is None:
            return super().response_add(request, obj, post_url_continue)
        return self._show_tokens(
            request,
            [(obj, token)],
            reverse("admin:incidents_integration_change", args=[obj.pk]),
        )

    @admin.action(description="Rotate token (shows the new one once)", permissions=["change"])
    def rotate_token(self, request, queryset):
        tokens = [
            (integration, integration_rotate_token(integration=integration, actor=request.user))
            for integration in queryset
        ]
        return self._show_tokens(request, tokens, reverse("admin:incidents_integration_changelist"))

    def _show_tokens(self, request, tokens, continue_url):
        context = {
            **self.admin_site.each_context(request),
            "title": "Integration token",
            "opts": self.opts,
            "tokens": tokens,
            "continue_url": continue_url,
        }
        response = TemplateResponse(request, TOKEN_TEMPLATE, context)
        response["Cache-Control"] = "no-store"
        return response


def _incident_link(alert):
    if not alert.incident_id:
        return "—"
    url = reverse("admin:incidents_incident_change", args=[alert.incident_id])
    return format_html('<a href="{}">{}</a>', url, alert.incident.reference)


def _source_link(alert):
    if not alert.link.startswith(("http://", "https://")):
        return alert.link or "—"
    return format_html(
        '<a href="{}" rel="noopener noreferrer" target="_blank">source</a>', alert.link
    )


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    """Read-only: alerts change only through ingestion."""

    list_display = (
        "summary",
        "status",
        "integration",
        "dedup_key",
        "count",
        "incident_link",
        "first_seen_at",
        "last_seen_at",
    )
    list_filter = (IncidentFilter, "status", "integration")
    search_fields = ("dedup_key", "summary")
    list_select_related = ("integration", "incident")
    date_hierarchy = "last_seen_at"

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        # What a sender posted can hold its secrets (masked when stored) and whatever else it
        # chose to send: only those who manage integrations read it.
        if not request.user.has_perm(RAW_PAYLOAD_PERMISSION):
            fields = [name for name in fields if name != "last_payload"]
        return fields

    @admin.display(description="Incident", ordering="incident__number")
    def incident_link(self, alert):
        return _incident_link(alert)


class AlertInline(BoundedInline, ReadOnlyAdminMixin, admin.TabularInline):
    """The newest alerts behind an incident, with counts and links (for IncidentAdmin.inlines)."""

    model = Alert
    fields = (
        "summary",
        "status",
        "count",
        "integration",
        "first_seen_at",
        "last_seen_at",
        "source_link",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "alerts"
    classes = ("tocsin-inline",)
    newest_order = ("-last_seen_at", "-id")
    changelist = "admin:incidents_alert_changelist"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("integration")

    @admin.display(description="Link")
    def source_link(self, alert):
        return _source_link(alert)
