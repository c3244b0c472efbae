from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from postmortems.choices import (
    ACTION_OPEN_STATUSES,
    ActionPriority,
    ActionStatus,
    PostmortemStatus,
)


class RootCauseCategory(models.Model):
    """A kind of root cause; two incidents with the same one are "repeat incidents"."""

    name = models.CharField(max_length=80, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "root-cause categories"

    def __str__(self) -> str:
        return self.name


class PostmortemQuerySet(models.QuerySet):
    def unpublished(self):
        return self.exclude(status=PostmortemStatus.PUBLISHED)

    def overdue(self, now: datetime | None = None):
        return self.unpublished().filter(due_at__lt=now or timezone.now())


class Postmortem(models.Model):
    """The blameless review of one incident, in the team runbooks' template sections."""

    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.CASCADE, related_name="postmortem"
    )
    status = models.CharField(
        max_length=12, choices=PostmortemStatus.choices, default=PostmortemStatus.DRAFT
    )
    required = models.BooleanField(
        default=False, help_text="The incident's severity requires a post-mortem."
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="authored_postmortems",
    )
    reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="reviewed_postmortems"
    )
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    affected_users = models.CharField(max_length=200, blank=True, help_text="Count or percentage.")

    summary = models.TextField(blank=True, help_text="2-3 sentences: what happened and the impact.")
    timeline = models.TextField(
        blank=True, help_text="Markdown list, times in UTC. Generated from the incident; editable."
    )
    root_cause = models.TextField(blank=True)
    root_cause_category = models.ForeignKey(
        RootCauseCategory,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="postmortems",
    )
    contributing_factors = models.TextField(blank=True)
    impact_users = models.TextField("user impact", blank=True)
    impact_business = models.TextField("business impact", blank=True)
    resolution = models.TextField(blank=True, help_text="What we did, and why it worked.")
    went_well = models.TextField("what went well", blank=True)
    went_poorly = models.TextField("what went poorly", blank=True)
    prevention = models.TextField(blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    last_reminded_at = models.DateTimeField(null=True, blank=True)

    objects = PostmortemQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "post-mortem"
        verbose_name_plural = "post-mortems"
        permissions = [("publish_postmortem", "Can publish post-mortems")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=PostmortemStatus.PUBLISHED, published_at__isnull=False)
                | (~Q(status=PostmortemStatus.PUBLISHED) & Q(published_at__isnull=True)),
                name="postmortem_published_at_iff_published",
            ),
        ]

    def __str__(self) -> str:
        return f"Post-mortem of INC-{self.incident.number}" if self.incident_id else "Post-mortem"

    def is_overdue(self, now: datetime | None = None) -> bool:
        return (
            self.status != PostmortemStatus.PUBLISHED
            and self.due_at is not None
            and self.due_at < (now or timezone.now())
        )


class ActionItemQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=ACTION_OPEN_STATUSES)

    def overdue(self, today=None):
        return self.open().filter(due_date__lt=today or timezone.localdate())


class ActionItem(models.Model):
    """Follow-up work from a post-mortem, tracked until done (or explicitly not done)."""

    postmortem = models.ForeignKey(
        Postmortem, on_delete=models.CASCADE, related_name="action_items"
    )
    title = models.CharField(max_length=255)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="postmortem_action_items",
    )
    due_date = models.DateField(null=True, blank=True, db_index=True)
    priority = models.CharField(
        max_length=8, choices=ActionPriority.choices, default=ActionPriority.MEDIUM
    )
    status = models.CharField(
        max_length=12, choices=ActionStatus.choices, default=ActionStatus.OPEN
    )
    tracker_url = models.URLField(blank=True, help_text="The ticket in Linear, Jira, GitHub, ...")
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_reminded_at = models.DateTimeField(null=True, blank=True)

    objects = ActionItemQuerySet.as_manager()

    class Meta:
        ordering = ["due_date", "id"]

    def __str__(self) -> str:
        return self.title

    def is_overdue(self, today=None) -> bool:
        return (
            self.status in ACTION_OPEN_STATUSES
            and self.due_date is not None
            and self.due_date < (today or timezone.localdate())
        )
