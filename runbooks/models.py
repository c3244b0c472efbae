"""Runbooks: what to do when a known thing breaks, matched to incidents and worked step by step."""

import re
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections, models
from django.db.models import DurationField, ExpressionWrapper, F, Q, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

DEFAULT_REVIEW_EVERY_DAYS = 90


class RunbookQuerySet(models.QuerySet):
    def with_review_due(self):
        """Annotate `review_due_at`: the last review (or creation) plus the review interval."""
        if connections[self.db].vendor == "sqlite":
            # SQLite keeps durations as integer microseconds and refuses integer * interval.
            days = F("review_every_days") * Value(86_400_000_000)
        else:
            days = F("review_every_days") * timedelta(days=1)
        interval = ExpressionWrapper(days, output_field=DurationField())
        return self.annotate(
            review_due_at=ExpressionWrapper(
                Coalesce("last_reviewed_at", "created_at") + interval,
                output_field=models.DateTimeField(),
            )
        )

    def needs_review(self, now: datetime | None = None):
        return self.with_review_due().filter(review_due_at__lte=now or timezone.now())

    def reviewed(self, now: datetime | None = None):
        return self.with_review_due().filter(review_due_at__gt=now or timezone.now())


class Runbook(models.Model):
    title = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True, help_text="Names the exported file.")
    services = models.ManyToManyField("incidents.Service", blank=True, related_name="runbooks")
    symptoms = models.TextField(blank=True, help_text="What responders see when this applies.")
    body = models.TextField(blank=True, help_text="Markdown: background, links, anything else.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_runbooks",
        help_text="Reminded, with the services' owners, when a review is due.",
    )
    review_every_days = models.PositiveSmallIntegerField(
        default=DEFAULT_REVIEW_EVERY_DAYS,
        help_text="Days between reviews.",
    )
    last_reviewed_at = models.DateTimeField(null=True, blank=True)
    # When the owners were last told a review was due; one reminder per review period.
    review_reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RunbookQuerySet.as_manager()

    class Meta:
        ordering = ["title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(review_every_days__gt=0), name="runbook_review_interval_positive"
            )
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("admin:runbooks_runbook_change", args=[self.pk])

    @property
    def review_due_on(self) -> datetime:
        return (self.last_reviewed_at or self.created_at) + timedelta(days=self.review_every_days)

    def review_overdue(self, now: datetime | None = None) -> bool:
        return self.review_due_on <= (now or timezone.now())


class RunbookStep(models.Model):
    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(default=0)
    instruction = models.TextField()
    command = models.TextField(blank=True, help_text="Shell command or query to run, if any.")
    expected = models.TextField(blank=True, verbose_name="expected result")

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.instruction.splitlines()[0] if self.instruction else f"Step {self.order}"


class CauseFix(models.Model):
    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="causes")
    order = models.PositiveSmallIntegerField(default=0)
    cause = models.TextField()
    fix = models.TextField()

    class Meta:
        ordering = ["order", "id"]
        verbose_name = "cause and fix"
        verbose_name_plural = "causes and fixes"

    def __str__(self) -> str:
        return self.cause


class MatchKind(models.TextChoices):
    LABEL_EQUALS = "label_equals", "Alert label equals"
    LABEL_MATCHES = "label_matches", "Alert label matches (regex)"
    SERVICE = "service", "Incident service is"
    TITLE_KEYWORD = "title_keyword", "Incident title contains"


# The weight a rule gets when nobody says otherwise (files: `match:` and `keywords:`).
DEFAULT_WEIGHTS = {
    MatchKind.LABEL_EQUALS: 10,
    MatchKind.LABEL_MATCHES: 8,
    MatchKind.SERVICE: 5,
    MatchKind.TITLE_KEYWORD: 3,
}
LABEL_KINDS = (MatchKind.LABEL_EQUALS, MatchKind.LABEL_MATCHES)


def describe_rule(kind: str, key: str, value: str) -> str:
    """How a rule reads where people see why a runbook was suggested."""
    if kind in LABEL_KINDS:
        op = "=" if kind == MatchKind.LABEL_EQUALS else "=~"
        return f"{key}{op}{value}"
    return f"{MatchKind(kind).label.lower()} “{value}”"


class MatchRule(models.Model):
    """One reason to suggest a runbook. A runbook's score for an incident is its rules' weights."""

    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(max_length=16, choices=MatchKind.choices)
    key = models.CharField(max_length=200, blank=True, help_text="The alert label (label rules).")
    value = models.CharField(
        max_length=500, help_text="Label value or regex, service slug, or title keyword."
    )
    weight = models.PositiveSmallIntegerField(default=10)

    class Meta:
        ordering = ["kind", "key", "value", "id"]
        verbose_name = "matching rule"
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind__in=LABEL_KINDS) | ~Q(key=""), name="matchrule_label_has_key"
            )
        ]

    def __str__(self) -> str:
        return describe_rule(self.kind, self.key, self.value)

    def clean(self):
        if self.kind in LABEL_KINDS and not self.key:
            raise ValidationError({"key": "Label rules need the label name."})
        if self.kind == MatchKind.LABEL_MATCHES:
            try:
                re.compile(self.value)
            except re.error as error:
                raise ValidationError(
                    {"value": f"Not a valid regular expression: {error}."}
                ) from None


class RunbookRevision(models.Model):
    """The whole runbook as its Markdown file at one point in time."""

    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    summary = models.CharField(max_length=300, blank=True)
    text = models.TextField(help_text="The runbook in its file form (front matter and body).")

    class Meta:
        ordering = ["runbook", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["runbook", "number"], name="revision_number_once")
        ]

    def __str__(self) -> str:
        return f"{self.runbook} r{self.number}"


class RunbookRun(models.Model):
    """A runbook worked on an incident: a checklist of its steps."""

    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="runs")
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="runbook_runs"
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = "runbook run"
        constraints = [
            models.UniqueConstraint(
                fields=["runbook", "incident"],
                condition=Q(completed_at__isnull=True),
                name="one_open_run_per_runbook_and_incident",
            )
        ]

    def __str__(self) -> str:
        return f"{self.runbook} on {self.incident.reference}"

    def get_absolute_url(self) -> str:
        return reverse("admin:runbooks_runbookrun_checklist", args=[self.pk])


class RunStepCheck(models.Model):
    run = models.ForeignKey(RunbookRun, on_delete=models.CASCADE, related_name="checks")
    step = models.ForeignKey(RunbookStep, on_delete=models.CASCADE, related_name="checks")
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    checked_at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["checked_at", "id"]
        verbose_name = "step check"
        constraints = [models.UniqueConstraint(fields=["run", "step"], name="step_checked_once")]

    def __str__(self) -> str:
        return f"{self.step} ✓"
