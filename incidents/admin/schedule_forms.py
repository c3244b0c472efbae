"""The forms of the on-call admin: layers (rotations), schedules, overrides, "Take this shift"."""

from zoneinfo import ZoneInfo

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents.admin.rotation_edits import MomentField
from incidents.admin.secrets import SecretAddressForm
from incidents.core.errors import DomainError
from incidents.core.formatting import person_label
from incidents.core.timezones import validate_time_zone
from incidents.models import HandoffChannel, Override, Rotation
from incidents.models.oncall import WEEKDAY_NAMES, ShiftKind
from incidents.oncall import compute as oncall
from incidents.oncall import rotations
from incidents.oncall import schedules as scheduling


class RotationForm(forms.ModelForm):
    effective_from = MomentField(
        label="People change from",
        required=False,
        input_formats=["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"size": 16, "placeholder": "YYYY-MM-DD HH:MM"}),
        help_text="A change of participants applies to shifts starting from this moment, in the "
        "schedule's time zone (empty: now). Earlier shifts and the one in progress keep their "
        "people; you see the shifts that move before saving.",
    )
    participant_usernames = forms.CharField(
        label="Participants",
        help_text="Usernames in turn order, separated by commas.",
        widget=forms.TextInput(attrs={"size": 50, "placeholder": "alice, bob, carol"}),
    )
    restrict_weekdays = forms.TypedMultipleChoiceField(
        label="Only on",
        choices=list(enumerate(WEEKDAY_NAMES)),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave empty for every day.",
    )

    class Meta:
        model = Rotation
        fields = [
            "name",
            "priority",
            "participant_usernames",
            "shift_kind",
            "shift_hours",
            "handoff_time",
            "handoff_weekday",
            "start_date",
            "ends_at",
            "restrict_weekdays",
            "restrict_start",
            "restrict_end",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["participant_usernames"].initial = ", ".join(
                p.user.username
                for p in self.instance.latest_participants(
                    list(self.instance.participants.select_related("user"))
                )
            )
            tz = ZoneInfo(self.instance.schedule.time_zone)
            self.fields["effective_from"].initial = oncall.to_local(timezone.now(), tz).strftime(
                "%Y-%m-%d %H:%M"
            )
        else:
            self.fields["effective_from"].widget = forms.HiddenInput()
        self.fields["handoff_time"].error_messages["invalid"] = (
            "Enter the handoff time as HH:MM, in the schedule's time zone (e.g. 09:00)."
        )

    def clean_participant_usernames(self):
        names = [name.strip() for name in self.cleaned_data["participant_usernames"].split(",")]
        names = [name for name in names if name]
        if not names:
            raise ValidationError("A rotation needs at least one participant.")
        users = get_user_model().objects.in_bulk(names, field_name="username")
        unknown = [name for name in names if name not in users]
        if unknown:
            raise ValidationError(f"Unknown username(s): {', '.join(unknown)}.")
        return [users[name] for name in names]

    def clean_effective_from(self):
        """The wall-clock time typed, read in the schedule's zone (not the server's)."""
        value = self.cleaned_data.get("effective_from")
        if value is None or not self.instance.pk:
            return None
        moment = oncall.localize(
            timezone.make_naive(value), ZoneInfo(self.instance.schedule.time_zone)
        )
        try:
            return rotations.check_effective_from(moment, timezone.now())
        except DomainError as error:
            raise ValidationError(error.message) from error

    def clean(self):
        data = super().clean()
        if data.get("shift_kind") == ShiftKind.HOURS and not data.get("shift_hours"):
            self.add_error("shift_hours", "Give the shift length in hours for this rotation.")
        try:
            scheduling.check_restriction_hours(data.get("restrict_start"), data.get("restrict_end"))
        except DomainError as error:
            self.add_error(error.field, error.message)
        return data


class ScheduleForm(forms.ModelForm):
    """Checks the zone before it reaches the row, so the page re-renders with the old one."""

    def clean_time_zone(self):
        validate_time_zone(self.cleaned_data["time_zone"])
        return self.cleaned_data["time_zone"]


class HandoffChannelForm(SecretAddressForm):
    class Meta:
        model = HandoffChannel
        fields = ["kind", "address"]


class OverrideForm(forms.ModelForm):
    class Meta:
        model = Override
        fields = ["schedule", "user", "starts_at", "ends_at", "replaces", "reason"]

    def clean(self):
        data = super().clean()
        if all(data.get(f) for f in ("schedule", "user", "starts_at", "ends_at")):
            try:
                scheduling.check_override(
                    schedule=data["schedule"],
                    user=data["user"],
                    start=data["starts_at"],
                    end=data["ends_at"],
                    exclude_pk=self.instance.pk,
                )
            except DomainError as error:
                self.add_error("ends_at" if error.field == "end" else "starts_at", error.message)
        return data


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return person_label(obj)


class TakeShiftForm(forms.Form):
    """Times are wall-clock times in the schedule's zone (the view activates it)."""

    user = PersonChoiceField(queryset=get_user_model().objects.none(), label="Who covers")
    start = forms.DateTimeField(
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    end = forms.DateTimeField(
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    replaces = PersonChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        label="Replacing",
        help_text="Empty: whoever is on call in that window.",
    )
    reason = forms.CharField(required=False, max_length=255)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        people = get_user_model().objects.filter(is_active=True).order_by("username")
        self.fields["user"].queryset = people
        self.fields["replaces"].queryset = people

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            self.add_error("end", "The override must end after it starts.")
        return data
