"""Escalation admin: policies with their steps and targets, severity routes, team channels, and
each incident's escalation (state, step, round, next page) with "Escalate now"."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Prefetch
from django.template.loader import render_to_string
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from incidents.admin.people import PeoplePickers
from incidents.admin.readonly import ReadOnlyAdmin, ReadOnlyAdminMixin
from incidents.admin.secrets import SecretAddressAdmin
from incidents.core.errors import DomainError
from incidents.core.texts import humanize_duration
from incidents.models import (
    EscalationPolicy,
    EscalationStep,
    EscalationTarget,
    IncidentEscalation,
    SeverityRoute,
    TeamChannel,
)
from incidents.paging.engine import escalation_escalate_now
from incidents.paging.policies import escalation_policy_set_default


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    extra = 0
    fields = ("order", "delay", "target_list")
    readonly_fields = ("target_list",)
    ordering = ("order", "id")
    show_change_link = True
    verbose_name = "step"
    verbose_name_plural = "steps (open a step to choose its targets)"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch(
                    "targets",
                    queryset=EscalationTarget.objects.select_related("schedule", "user", "channel"),
                )
            )
        )

    @admin.display(description="targets")
    def target_list(self, step):
        if step.pk is None:
            return "Save, then open the step to add targets."
        return ", ".join(str(t) for t in step.targets.all()) or "— none yet —"


class SeverityRouteInline(admin.TabularInline):
    model = SeverityRoute
    extra = 0
    fields = ("severity", "service")
    autocomplete_fields = ("service",)
    verbose_name = "severity route to this policy"
    verbose_name_plural = "severity routes to this policy (e.g. P0 on any service)"


class EscalationPolicyForm(forms.ModelForm):
    # Not the model field itself: the flag moves through escalation_policy_set_default, which
    # unsets the old default in the same transaction (the form alone would hit the constraint).
    default = forms.BooleanField(
        required=False,
        label="Default policy",
        help_text=EscalationPolicy._meta.get_field("is_default").help_text,
    )

    class Meta:
        model = EscalationPolicy
        fields = ["name", "description", "repeat", "repeat_delay"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["default"].initial = self.instance.is_default


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    form = EscalationPolicyForm
    list_display = ("name", "is_default", "step_count", "repeat", "service_list")
    search_fields = ("name", "description")
    fields = ("name", "description", "default", "repeat", "repeat_delay", "path")
    readonly_fields = ("path",)
    inlines = (EscalationStepInline, SeverityRouteInline)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(step_total=Count("steps", distinct=True))
            .prefetch_related("services")
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        wanted = form.cleaned_data["default"]
        if obj.is_default != wanted:
            obj.is_default = escalation_policy_set_default(policy=obj, default=wanted).is_default

    @admin.display(description="steps", ordering="step_total")
    def step_count(self, policy):
        return policy.step_total

    @admin.display(description="services")
    def service_list(self, policy):
        return ", ".join(s.name for s in policy.services.all()) or "—"

    @admin.display(description="escalation path")
    def path(self, policy):
        if policy.pk is None:
            return "—"
        steps = policy.steps.prefetch_related(
            "targets__schedule", "targets__user", "targets__channel"
        )
        rows = [
            (
                index + 1,
                "at once" if not step.delay else f"after {humanize_duration(step.delay)}",
                ", ".join(str(t) for t in step.targets.all()) or "nobody",
            )
            for index, step in enumerate(steps)
        ]
        return format_html_join("", "<div>{}. {}: {}</div>", rows) or "No steps yet."


class EscalationTargetInline(PeoplePickers, admin.TabularInline):
    model = EscalationTarget
    extra = 1
    fields = ("type", "schedule", "user", "channel")
    autocomplete_fields = ("user",)


@admin.register(EscalationStep)
class EscalationStepAdmin(admin.ModelAdmin):
    list_display = ("__str__", "delay")
    list_select_related = ("policy",)
    fields = ("policy", "order", "delay")
    inlines = (EscalationTargetInline,)

    def has_module_permission(self, request):
        # Reached from its policy's page, not from the index.
        return False


@admin.register(TeamChannel)
class TeamChannelAdmin(SecretAddressAdmin):
    list_display = ("name", "kind", "masked_address")
    search_fields = ("name",)


@admin.register(SeverityRoute)
class SeverityRouteAdmin(admin.ModelAdmin):
    list_display = ("severity", "service", "policy")
    list_select_related = ("severity", "service", "policy")
    autocomplete_fields = ("service",)


def escalation_summary(row: IncidentEscalation | None):
    if row is None:
        return "No escalation (no policy applied when it opened)."
    html = render_to_string("admin/incidents/includes/escalation_summary.html", {"row": row})
    return mark_safe(html.strip())


class IncidentEscalationInline(ReadOnlyAdminMixin, admin.StackedInline):
    """Shown on the incident page: where its escalation stands."""

    model = IncidentEscalation
    extra = 0
    max_num = 0
    can_delete = False
    fields = ("summary", "started_at", "last_fired_at", "finished_at")
    readonly_fields = fields
    verbose_name = "escalation"
    verbose_name_plural = "escalation"

    @admin.display(description="state")
    def summary(self, row):
        return escalation_summary(row)


@admin.register(IncidentEscalation)
class IncidentEscalationAdmin(ReadOnlyAdmin):
    list_display = ("incident", "policy_name", "state", "step_of", "round_of", "next_at", "version")
    list_filter = ("state",)
    list_select_related = ("incident",)
    search_fields = ("incident__title", "policy_name")
    readonly_fields = [f.name for f in IncidentEscalation._meta.fields]
    actions = ("escalate_now",)

    def has_escalate_permission(self, request):
        return request.user.has_perm("incidents.escalate_incident")

    @admin.display(description="step")
    def step_of(self, row):
        return f"{row.step + 1} of {len(row.steps)}"

    @admin.display(description="round")
    def round_of(self, row):
        return f"{row.round + 1} of {row.rounds}"

    @admin.action(description="Escalate now (page the pending step)", permissions=["escalate"])
    def escalate_now(self, request, queryset):
        escalate_incidents(self, request, [row.incident for row in queryset])


def escalate_incidents(model_admin, request, incidents) -> None:
    """Shared by the incident list's and this list's "Escalate now" actions."""
    done, refusals = [], []
    for incident in incidents:
        try:
            escalation_escalate_now(incident=incident, actor=request.user)
        except DomainError as error:
            refusals.append(str(error))
        else:
            done.append(incident.reference)
    if done:
        model_admin.message_user(request, f"Escalated {', '.join(done)} now.", messages.SUCCESS)
    for refusal in refusals:
        model_admin.message_user(request, refusal, messages.WARNING)
