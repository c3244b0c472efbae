"""On-call rows: schedules, their rotation layers and participants, overrides, handoffs.

Who is on call is computed from these rows by `incidents.oncall.compute` (a pure function of them and an
instant); nothing here stores a computed shift.
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from incidents.core.choices import ContactKind
from incidents.core.contacts import mask_address
from incidents.core.timezones import validate_time_zone  # migration 0005 names it here


def new_ical_token() -> str:
    return secrets.token_urlsafe(24)


class ShiftKind(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    HOURS = "hours", "Every N hours"


WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def ical_url_for(token: str) -> str:
    return settings.TOCSIN_BASE_URL + reverse("oncall-ical", kwargs={"token": token})


class Schedule(models.Model):
    name = models.CharField(max_length=120, unique=True)
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="IANA zone; handoff times and restrictions are wall-clock times in it.",
    )
    description = models.TextField(blank=True)
    backup_schedule = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Its on-call is named 'Secondary' in this schedule's handoff messages.",
    )
    ical_token = models.CharField(
        max_length=64, unique=True, default=new_ical_token, editable=False
    )
    # Where the handoff sweep has looked up to; shift changes after it are still to announce.
    handoffs_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def ical_url(self) -> str:
        return ical_url_for(self.ical_token)


class HandoffChannel(models.Model):
    """A team channel that receives the schedule's handoff messages."""

    schedule = models.ForeignKey(
        Schedule, on_delete=models.CASCADE, related_name="handoff_channels"
    )
    kind = models.CharField(max_length=10, choices=ContactKind.choices)
    address = models.CharField(max_length=500, help_text="An email address or an http(s) URL.")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "kind", "address"], name="handoff_channel_once_per_schedule"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {mask_address(self.address)}"


class Rotation(models.Model):
    """A layer of a schedule: participants take turns; a higher priority wins where it has someone."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="rotations")
    name = models.CharField(max_length=120)
    priority = models.PositiveSmallIntegerField(
        default=0, help_text="Higher layers win where they have someone on call."
    )
    shift_kind = models.CharField(
        max_length=10, choices=ShiftKind.choices, default=ShiftKind.WEEKLY
    )
    shift_hours = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Shift length for 'every N hours' rotations."
    )
    handoff_time = models.TimeField(help_text="Local wall-clock time of each handoff.")
    handoff_weekday = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        choices=list(enumerate(WEEKDAY_NAMES)),
        help_text="Weekly rotations: day of the handoff (default: the start date's weekday).",
    )
    start_date = models.DateField(help_text="The first handoff is on or after this day.")
    ends_at = models.DateTimeField(null=True, blank=True, help_text="The layer stops here.")
    restrict_weekdays = models.JSONField(
        default=list, blank=True, help_text="Only on these weekdays (0 = Monday); empty for all."
    )
    restrict_start = models.TimeField(null=True, blank=True, help_text="Only from this local time…")
    restrict_end = models.TimeField(
        null=True, blank=True, help_text="…until this local time (before the start: over midnight)."
    )

    class Meta:
        ordering = ["schedule", "-priority", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(shift_kind="hours") | Q(shift_hours__gte=1),
                name="rotation_hours_shift_has_length",
            ),
            models.CheckConstraint(
                condition=Q(handoff_weekday__isnull=True) | Q(handoff_weekday__lte=6),
                name="rotation_handoff_weekday_range",
            ),
            models.CheckConstraint(
                condition=Q(restrict_start__isnull=True, restrict_end__isnull=True)
                | Q(restrict_start__isnull=False, restrict_end__isnull=False),
                name="rotation_restriction_hours_paired",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.schedule.name} / {self.name}" if self.schedule_id else self.name

    def latest_participants(self, rows=None) -> list["RotationParticipant"]:
        """The most recent list, in turn order (the one that applies from now or soon on), from
        `rows` (the participant rows) when given."""
        rows = list(self.participants.all()) if rows is None else rows
        latest = max((r.effective_from for r in rows if r.effective_from), default=None)
        return [r for r in rows if r.effective_from == latest]

    @property
    def shift_label(self) -> str:
        if self.shift_kind == ShiftKind.HOURS:
            return f"{self.shift_hours}h"
        return self.shift_kind


class RotationParticipant(models.Model):
    """One place in a rotation's turn order. Rows sharing an `effective_from` form one list:
    empty is the list from the rotation's start, a time is an edit that applies from then on."""

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)
    effective_from = models.DateTimeField(
        null=True, blank=True, help_text="This list takes turns from here (empty: from the start)."
    )

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.position}. {self.user}"


class Override(models.Model):
    """Someone covers a window of a schedule, replacing whoever (or the named person) is on call."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oncall_overrides"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    replaces = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Only replace this person (empty: whoever is on call).",
    )
    reason = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["schedule", "ends_at"], name="override_schedule_ends")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="override_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.schedule} {self.starts_at:%Y-%m-%d %H:%M} to {self.ends_at:%Y-%m-%d %H:%M}"


class Handoff(models.Model):
    """One shift change of a schedule; the unique (schedule, at) makes announcing it happen once."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="handoffs")
    at = models.DateTimeField()
    outgoing = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    incoming = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "at"], name="handoff_once_per_change")
        ]

    def __str__(self) -> str:
        return f"{self.schedule} handoff at {self.at:%Y-%m-%d %H:%M}"


class HandoffDelivery(models.Model):
    """One message of a handoff to one address; `sent_at` keeps a retry from sending it twice.

    A notice without a handoff tells a person their upcoming shifts moved (a rotation edit); it
    carries its own `subject` and `body`.
    """

    handoff = models.ForeignKey(
        Handoff, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    kind = models.CharField(max_length=10, choices=ContactKind.choices)
    address = models.CharField(max_length=500)
    # The team channel gets the handoff message, the incoming person a "you are now on call" notice.
    notice = models.BooleanField(default=False)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["handoff", "kind", "address", "notice"], name="handoff_delivery_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {mask_address(self.address)}"


class UserCalendar(models.Model):
    """A person's secret iCal feed token."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oncall_calendar"
    )
    token = models.CharField(max_length=64, unique=True, default=new_ical_token)

    def __str__(self) -> str:
        return f"calendar of {self.user}"

    @property
    def ical_url(self) -> str:
        return ical_url_for(self.token)
