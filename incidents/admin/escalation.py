"""Escalation admin: policies with their steps and targets, severity routes, team channels, and
each incident's escalation (state, step, round, next page) with "Escalate now"."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Count, Prefetch
from django.template.loader import render_to_string
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from incidents.admin.action_guard import RefuseUnofferedActions
from incidents.admin.audit import DomainAdmin
from incidents.admin.people import PeoplePickers
from incidents.admin.readonly import ReadOnlyAdmin, ReadOnlyAdminMixin
from incidents.admin.secrets import SecretAddressAdmin
from incidents.core import policy
from incidents.core.errors import DomainError
from incidents.core.formatting import person_label
from incidents.core.texts import humanize_duration
from incidents.models import (
    EscalationPolicy,
    EscalationStep,
    EscalationTarget,
    IncidentEscalation,
    RoundRobinMember,
    Schedule,
    SeverityRoute,
    TargetType,
    TeamChannel,
)
from incidents.paging.engine import escalation_escalate_now
from incidents.paging.policies import (
    RoundRobin,
    escalation_policy_save,
    escalation_policy_set_default,
    escalation_step_save,
    severity_route_save,
    target_label,
    team_channel_save,
)

NO_TARGET = (
    "Each step needs at least one target: a schedule, a person, a team channel or a round robin."
)


def _target_choices():
    people = get_user_model().objects.filter(is_active=True).order_by("username")
    return [
        (
            "Schedules (whoever is on call)",
            [(f"schedule:{s.pk}", s.name) for s in Schedule.objects.all()],
        ),
        ("People", [(f"user:{u.pk}", person_label(u)) for u in people]),
        ("Team channels", [(f"channel:{c.pk}", c.name) for c in TeamChannel.objects.all()]),
    ]


_TARGET_MODELS = {"schedule": Schedule, "channel": TeamChannel}


class StepForm(forms.ModelForm):
    """A step with its targets on the policy's page: a step must page someone."""

    targets = forms.MultipleChoiceField(
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="Hold Ctrl (⌘ on a Mac) to pick several.",
    )
    round_robins = forms.CharField(
        required=False,
        label="round robin",
        widget=forms.Textarea(attrs={"rows": 2, "cols": 28}),
        help_text="Each new incident pages the next of these people, in turn: usernames in "
        "order, separated by commas (one round robin a line), e.g. alice, bob, carol.",
    )

    class Meta:
        model = EscalationStep
        fields = ["order", "delay"]

    target_choices = None  # set once per page by the inline (three queries, not three a step)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["targets"].choices = self.target_choices or _target_choices()
        if self.instance.pk:
            targets = list(self.instance.targets.all())
            self.fields["targets"].initial = [
                f"{t.type}:{t.schedule_id or t.user_id or t.channel_id}"
                for t in targets
                if t.type != TargetType.ROUND_ROBIN
            ]
            self.fields["round_robins"].initial = "\n".join(
                ", ".join(m.user.get_username() for m in t.members.all())
                for t in targets
                if t.type == TargetType.ROUND_ROBIN
            )

    def clean_targets(self):
        chosen = []
        for value in self.cleaned_data["targets"]:
            kind, _, pk = value.partition(":")
            model = _TARGET_MODELS.get(kind, get_user_model())
            chosen.append(model._default_manager.get(pk=pk))
        return chosen

    def clean_round_robins(self):
        lines = [line for line in self.cleaned_data["round_robins"].splitlines() if line.strip()]
        names = [[n.strip() for n in line.split(",") if n.strip()] for line in lines]
        wanted = {name for line in names for name in line}
        found = {
            u.get_username(): u
            for u in get_user_model().objects.filter(username__in=wanted, is_active=True)
        }
        unknown = sorted(wanted - set(found))
        if unknown:
            raise forms.ValidationError(f"No active user named {', '.join(unknown)}.")
        return [RoundRobin(users=[found[n] for n in line]) for line in names]

    def clean(self):
        data = super().clean()
        if (
            not self.errors
            and not data.get("DELETE")
            and not data.get("targets")
            and not data.get("round_robins")
        ):
            self.add_error("targets", NO_TARGET)
        return data

    def all_targets(self) -> list:
        return [*self.cleaned_data["targets"], *self.cleaned_data["round_robins"]]


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    form = StepForm
    extra = 0
    fields = ("order", "delay", "targets", "round_robins")
    ordering = ("order", "id")
    show_change_link = True
    verbose_name = "step"
    verbose_name_plural = "steps"

    def get_queryset(self, request):
        # The policy too: each row's change link names its step by its policy.
        return (
            super()
            .get_queryset(request)
            .select_related("policy")
            .prefetch_related(
                Prefetch(
                    "targets",
                    queryset=EscalationTarget.objects.prefetch_related(
                        Prefetch(
                            "members",
                            queryset=RoundRobinMember.objects.select_related("user").order_by(
                                "position", "id"
                            ),
                        )
                    ),
                )
            )
        )

    def get_formset(self, request, obj=None, **kwargs):
        kwargs["form"] = type("StepForm", (StepForm,), {"target_choices": _target_choices()})
        return super().get_formset(request, obj, **kwargs)


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
class EscalationPolicyAdmin(DomainAdmin):
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

    def domain_save(self, request, obj, form, change):
        escalation_policy_save(policy=obj, actor=request.user)
        wanted = form.cleaned_data["default"]
        if obj.is_default != wanted:
            obj.is_default = escalation_policy_set_default(
                policy=obj, default=wanted, actor=request.user
            ).is_default

    def domain_save_inline(self, request, obj, inline_form, parent):
        if isinstance(obj, EscalationStep):
            escalation_step_save(step=obj, targets=inline_form.all_targets(), actor=request.user)
        else:
            severity_route_save(route=obj, actor=request.user)

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
            "targets__schedule", "targets__user", "targets__channel", "targets__members__user"
        )
        rows = [
            (
                index + 1,
                "at once" if not step.delay else f"after {humanize_duration(step.delay)}",
                ", ".join(target_label(t) for t in step.targets.all()) or "nobody",
            )
            for index, step in enumerate(steps)
        ]
        return format_html_join("", "<div>{}. {}: {}</div>", rows) or "No steps yet."


class EscalationTargetForm(forms.ModelForm):
    class Meta:
        model = EscalationTarget
        fields = ["type", "schedule", "user", "channel"]

    def clean_type(self):
        kind = self.cleaned_data["type"]
        if kind == TargetType.ROUND_ROBIN and self.instance.type != TargetType.ROUND_ROBIN:
            raise forms.ValidationError(
                "Add a round robin on the policy's page, where its people are chosen in order."
            )
        return kind


class EscalationTargetInline(PeoplePickers, admin.TabularInline):
    model = EscalationTarget
    form = EscalationTargetForm
    extra = 0
    min_num = 1
    fields = ("type", "schedule", "user", "channel")
    autocomplete_fields = ("user",)

    def get_formset(self, request, obj=None, **kwargs):
        # Removing a step's last target would leave it paging nobody: refused on the form.
        formset = super().get_formset(request, obj, validate_min=True, **kwargs)
        formset.default_error_messages = {"too_few_forms": NO_TARGET}
        return formset


@admin.register(EscalationStep)
class EscalationStepAdmin(DomainAdmin):
    list_display = ("__str__", "delay")
    list_select_related = ("policy",)
    fields = ("policy", "order", "delay")
    inlines = (EscalationTargetInline,)

    def has_module_permission(self, request):
        # Reached from its policy's page, not from the index.
        return False


@admin.register(TeamChannel)
class TeamChannelAdmin(SecretAddressAdmin, DomainAdmin):
    list_display = ("name", "kind", "masked_address")
    search_fields = ("name",)

    def domain_save(self, request, obj, form, change):
        team_channel_save(channel=obj, actor=request.user)


@admin.register(SeverityRoute)
class SeverityRouteAdmin(DomainAdmin):
    list_display = ("severity", "service", "policy")
    list_select_related = ("severity", "service", "policy")
    autocomplete_fields = ("service",)

    def domain_save(self, request, obj, form, change):
        severity_route_save(route=obj, actor=request.user)


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
class IncidentEscalationAdmin(RefuseUnofferedActions, ReadOnlyAdmin):
    list_display = ("incident", "policy_name", "state", "step_of", "round_of", "next_at", "version")
    list_filter = ("state",)
    list_select_related = ("incident",)
    search_fields = ("incident__title", "policy_name")
    readonly_fields = [f.name for f in IncidentEscalation._meta.fields]
    actions = ("escalate_now",)

    def has_escalate_permission(self, request):
        return policy.may(request.user, policy.Action.ESCALATE_NOW)

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
