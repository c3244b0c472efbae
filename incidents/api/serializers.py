"""Input and output serializers for the incidents API. Inputs validate; outputs render."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.api.common.instants import InstantField
from incidents.api.common.strict import StrictInput
from incidents.core.choices import IncidentStatus, ResponderRole, UpdateStatus
from incidents.core.services import SERVICE_FIELDS
from incidents.core.validators import validate_single_line
from incidents.models import (
    Incident,
    IncidentEscalation,
    Service,
    Severity,
    StatusUpdate,
    TimelineEvent,
)
from incidents.paging.fallback import nobody_paged_reason


class UsernameField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "username")
        kwargs.setdefault("queryset", get_user_model().objects.filter(is_active=True))
        super().__init__(**kwargs)


class SeverityKeyField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "key")
        kwargs.setdefault("queryset", Severity.objects.all())
        super().__init__(**kwargs)


class SeveritySerializer(serializers.ModelSerializer):
    class Meta:
        model = Severity
        fields = [
            "id",
            "key",
            "name",
            "rank",
            "description",
            "acknowledge_within",
            "resolve_within",
            "update_every",
            "pages",
            "postmortem",
            "postmortem_due_within",
        ]


class ServiceSerializer(StrictInput, serializers.ModelSerializer):
    owner = UsernameField(required=False, allow_null=True)

    class Meta:
        model = Service
        # Every field the admin edits (incidents.core.services.SERVICE_FIELDS).
        fields = ["id", *SERVICE_FIELDS, "created_at"]


class IncidentOutput(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    severity = serializers.CharField(source="severity.key")
    services = serializers.SlugRelatedField(many=True, read_only=True, slug_field="slug")
    commander = serializers.SlugRelatedField(read_only=True, slug_field="username", allow_null=True)
    acknowledge_due_at = serializers.DateTimeField()
    resolve_due_at = serializers.DateTimeField()
    acknowledge_breached = serializers.SerializerMethodField()
    resolve_breached = serializers.SerializerMethodField()
    admin_url = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "id",
            "number",
            "reference",
            "title",
            "summary",
            "impact",
            "status",
            "severity",
            "services",
            "commander",
            "started_at",
            "detected_at",
            "acknowledged_at",
            "mitigated_at",
            "resolved_at",
            "acknowledge_due_at",
            "resolve_due_at",
            "acknowledge_breached",
            "resolve_breached",
            "admin_url",
            "created_at",
            "updated_at",
        ]

    def get_acknowledge_breached(self, incident) -> bool:
        return incident.acknowledge_breached()

    def get_resolve_breached(self, incident) -> bool:
        return incident.resolve_breached()

    def get_admin_url(self, incident) -> str:
        return settings.TOCSIN_BASE_URL + reverse(
            "admin:incidents_incident_change", args=[incident.pk]
        )


class ResponderOutput(serializers.Serializer):
    user = serializers.CharField(source="user.username")
    role = serializers.CharField()
    added_at = serializers.DateTimeField()


class EscalationOutput(serializers.ModelSerializer):
    """Where paging stands on an incident (steps and rounds counted from 1)."""

    step = serializers.SerializerMethodField()
    round = serializers.SerializerMethodField()
    steps = serializers.SerializerMethodField()

    class Meta:
        model = IncidentEscalation
        fields = ["incident", "policy", "policy_name", "state", "step", "steps", "round", "next_at"]

    def get_step(self, row) -> int:
        return row.step + 1

    def get_round(self, row) -> int:
        return row.round + 1

    def get_steps(self, row) -> int:
        return len(row.steps)


class IncidentDetailOutput(IncidentOutput):
    responders = ResponderOutput(many=True, read_only=True)
    escalation = serializers.SerializerMethodField()

    class Meta(IncidentOutput.Meta):
        fields = [
            *IncidentOutput.Meta.fields,
            "acknowledge_breached_at",
            "responders",
            "escalation",
            "nobody_paged",
        ]

    nobody_paged = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_nobody_paged(self, incident) -> str | None:
        """Why nobody is being paged for this incident (the admin's red banner); null while
        someone is, or when it needs nobody (acknowledged, resolved, a severity that does not page)."""
        return nobody_paged_reason(incident)

    @extend_schema_field(EscalationOutput(allow_null=True))
    def get_escalation(self, incident) -> dict | None:
        """Where paging stands; null when no escalation policy applied."""
        state = getattr(incident, "escalation", None)
        return EscalationOutput(state).data if state is not None else None


class IncidentCreateInput(StrictInput, serializers.Serializer):
    title = serializers.CharField(max_length=255, validators=[validate_single_line])
    severity = SeverityKeyField()
    service = serializers.SlugRelatedField(
        slug_field="slug", queryset=Service.objects.all(), required=False, allow_null=True
    )
    services = serializers.SlugRelatedField(
        slug_field="slug", queryset=Service.objects.all(), many=True, required=False
    )
    summary = serializers.CharField(required=False, allow_blank=True, default="")
    impact = serializers.CharField(required=False, allow_blank=True, default="")
    commander = UsernameField(required=False, allow_null=True)
    started_at = InstantField(required=False)


class TransitionInput(StrictInput, serializers.Serializer):
    status = serializers.ChoiceField(choices=IncidentStatus.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ResolveInput(StrictInput, serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class StatusUpdateInput(StrictInput, serializers.Serializer):
    message = serializers.CharField(max_length=10000)
    public = serializers.BooleanField(required=False, default=False)
    status = serializers.ChoiceField(choices=UpdateStatus.choices, required=False, allow_null=True)
    public_title = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=255,
        validators=[validate_single_line],
        help_text="Title customers see on the status page (public updates only).",
    )


class StatusUpdateOutput(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(read_only=True, slug_field="username", allow_null=True)

    class Meta:
        model = StatusUpdate
        fields = ["id", "incident", "status", "message", "public", "author", "created_at"]


class TimelineEventOutput(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label")
    user = serializers.SlugRelatedField(
        source="actor", read_only=True, slug_field="username", allow_null=True
    )

    class Meta:
        model = TimelineEvent
        fields = ["id", "at", "kind", "actor", "user", "message", "before", "after"]


class ResponderInput(StrictInput, serializers.Serializer):
    user = UsernameField()
    role = serializers.ChoiceField(
        choices=ResponderRole.choices, required=False, default=ResponderRole.RESPONDER
    )
