"""On-call admin: schedules with their layers, the 14-day final schedule, overrides, handoffs."""

from datetime import datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from incidents.admin.rotation_edits import ConfirmParticipantsMixin, MomentField
from incidents.admin.rotation_edits import local_time as _local
from incidents.admin.secrets import (
    MaskedForViewers,
    SecretAddressForm,
    announce_saved_formset,
    masked_address,
)
from incidents.core.errors import DomainError
from incidents.core.formatting import person_label, person_name
from incidents.core.timezones import validate_time_zone
from incidents.models import (
    Handoff,
    HandoffChannel,
    HandoffDelivery,
    Override,
    Rotation,
    RotationParticipant,
    Schedule,
)
from incidents.models.oncall import WEEKDAY_NAMES, ShiftKind
from incidents.oncall import compute as oncall
from incidents.oncall import rotations
from incidents.oncall import schedules as scheduling

HORIZON = timedelta(days=14)
PALETTE = ("#2563eb", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#9333ea")


def _colours(timeline) -> dict[int, str]:
    """A distinct colour per person, in order of first appearance on the page."""
    colours: dict[int, str] = {}
    for seg in timeline:
        if seg.user is not None and seg.user not in colours:
            colours[seg.user] = PALETTE[len(colours) % len(PALETTE)]
    return colours


def _length(delta: timedelta) -> str:
    hours = round(delta.total_seconds() / 3600, 1)
    if hours >= 24:
        return f"{hours / 24:.1f} d".replace(".0 d", " d")
    return f"{hours:g} h"


def _who(user_id, users) -> str:
    user = users.get(user_id)
    return "—" if user is None else person_name(user)


# --- forms -------------------------------------------------------------------------------------


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


# --- inlines -----------------------------------------------------------------------------------


class RotationInline(admin.StackedInline):
    model = Rotation
    form = RotationForm
    extra = 0
    min_num = 1
    show_change_link = True
    ordering = ["-priority", "id"]
    fieldsets = [
        (None, {"fields": ["name", "priority", "participant_usernames", "effective_from"]}),
        (
            "Shifts",
            {
                "fields": [
                    ("shift_kind", "shift_hours"),
                    ("handoff_time", "handoff_weekday"),
                    ("start_date", "ends_at"),
                ]
            },
        ),
        ("Restriction", {"fields": ["restrict_weekdays", ("restrict_start", "restrict_end")]}),
    ]

    def get_formset(self, request, obj=None, **kwargs):
        # A schedule without a layer has nobody on call, ever: refuse it.
        return super().get_formset(request, obj, validate_min=True, **kwargs)


class HandoffChannelInline(MaskedForViewers, admin.TabularInline):
    model = HandoffChannel
    form = HandoffChannelForm
    extra = 0
    verbose_name = "handoff channel"


class ParticipantInline(admin.TabularInline):
    """Read-only: editing rows here would re-deal past shifts; the schedule page changes people
    from a moment on."""

    model = RotationParticipant
    extra = 0
    fields = ["effective_from", "position", "user"]
    readonly_fields = fields
    ordering = ["effective_from", "position", "id"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


# --- schedules ---------------------------------------------------------------------------------


@admin.register(Schedule)
class ScheduleAdmin(ConfirmParticipantsMixin, admin.ModelAdmin):
    form = ScheduleForm
    list_display = ("name", "time_zone", "oncall_now_next", "layer_count")
    search_fields = ("name", "description")
    inlines = [RotationInline, HandoffChannelInline]
    readonly_fields = ("oncall_summary", "ical_link", "final_schedule")

    class Media:
        css = {"all": ["incidents/oncall.css"]}

    def get_fieldsets(self, request, obj=None):
        base = [(None, {"fields": ["name", "time_zone", "description", "backup_schedule"]})]
        if obj is None:
            return base
        return [
            ("On call", {"fields": ["oncall_summary", "ical_link", "final_schedule"]}),
            *base,
        ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("rotations")

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)  # fills the page's cache, which the template reuses
        _attach_now_next(rows)
        return changelist

    @admin.display(description="Layers")
    def layer_count(self, obj):
        return len(obj.rotations.all())

    @admin.display(description="On call now / next")
    def oncall_now_next(self, obj):
        current, nxt, users = getattr(obj, "_now_next", (None, None, {}))
        return _now_next_html(obj, current, nxt, users)

    @admin.display(description="Now")
    def oncall_summary(self, obj):
        _attach_now_next([obj])
        current, nxt, users = obj._now_next
        return _now_next_html(obj, current, nxt, users)

    @admin.display(description="Calendar (iCal)")
    def ical_link(self, obj):
        return _render("admin/incidents/schedule/ical_link.html", {"url": obj.ical_url})

    @admin.display(description="Next 14 days")
    def final_schedule(self, obj):
        tz = ZoneInfo(obj.time_zone)
        now = timezone.now().replace(second=0, microsecond=0)
        timeline = oncall.final_timeline(oncall.load_spec(obj), now, now + HORIZON)
        users = get_user_model().objects.in_bulk({s.user for s in timeline if s.user})
        colours = _colours(timeline)
        take_url = reverse("admin:incidents_schedule_override", args=[obj.pk])
        rows = []
        for seg in timeline:
            query = urlencode(
                {
                    "start": seg.start.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
                    "end": seg.end.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
                    **({"replaces": seg.user} if seg.user else {}),
                }
            )
            rows.append(
                {
                    "user": seg.user,
                    "colour": colours.get(seg.user),
                    "who": _who(seg.user, users),
                    "start": _local(seg.start, tz),
                    "end": _local(seg.end, tz),
                    "length": _length(seg.end - seg.start),
                    "take_url": f"{take_url}?{query}",
                }
            )
        context = {
            "rows": rows,
            "strips": _day_strips(timeline, tz, now, users, colours),
            "time_zone": obj.time_zone,
        }
        return _render("admin/incidents/schedule/final_schedule.html", context)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/override/",
                self.admin_site.admin_view(self.override_view),
                name="incidents_schedule_override",
            ),
            path(
                "<path:object_id>/rotate-ical/",
                self.admin_site.admin_view(self.rotate_ical_view),
                name="incidents_schedule_rotate_ical",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "override_url": reverse("admin:incidents_schedule_override", args=[object_id]),
            "my_calendar_url": scheduling.user_calendar(user=request.user).ical_url,
            "rotate_ical_url": reverse("admin:incidents_schedule_rotate_ical", args=[object_id]),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        announce_saved_formset(request, formset)
        if formset.model is not Rotation:
            return
        for rotation_form in formset.forms:
            rotation = rotation_form.instance
            if rotation.pk and rotation_form not in formset.deleted_forms:
                rotations.rotation_set_participants(
                    rotation=rotation,
                    users=rotation_form.cleaned_data["participant_usernames"],
                    effective_from=rotation_form.cleaned_data.get("effective_from"),
                    actor=request.user,
                )

    def rotate_ical_view(self, request, object_id):
        """POST only: a new secret feed URL; calendars subscribed to the old one stop updating."""
        schedule = self.get_object(request, unquote(object_id))
        if schedule is None:
            raise Http404("No such schedule.")
        if not self.has_change_permission(request, schedule):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        schedule = scheduling.schedule_rotate_ical(schedule=schedule, actor=request.user)
        self.message_user(
            request,
            f"New calendar link for {schedule}: {schedule.ical_url} (the old one no longer works).",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:incidents_schedule_change", args=[schedule.pk]))

    def override_view(self, request, object_id):
        """ "Create override" / "Take this shift": someone covers a window of this schedule."""
        schedule = self.get_object(request, unquote(object_id))
        if schedule is None:
            raise Http404("No such schedule.")
        if not request.user.has_perm("incidents.add_override"):
            raise PermissionDenied
        tz = ZoneInfo(schedule.time_zone)
        initial = {"user": request.user.pk, **request.GET.dict()}
        with timezone.override(tz):
            form = TakeShiftForm(request.POST or None, initial=initial)
            valid = request.method == "POST" and form.is_valid()
        if valid:
            data = form.cleaned_data
            try:
                override = scheduling.override_create(
                    schedule=schedule,
                    user=data["user"],
                    start=data["start"],
                    end=data["end"],
                    replaces=data["replaces"],
                    reason=data["reason"],
                    actor=request.user,
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                self.message_user(
                    request,
                    f"{override.user} covers {schedule} from {_local(override.starts_at, tz)} "
                    f"to {_local(override.ends_at, tz)}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:incidents_schedule_change", args=[schedule.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": schedule,
            "schedule": schedule,
            "title": f"Create override on {schedule}",
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/incidents/schedule/override.html", context)


def _attach_now_next(schedules) -> None:
    """Who is on call now and next for a page of schedules, in a fixed number of queries."""
    now = timezone.now()
    specs = oncall.load_specs(schedules)
    pairs = {pk: oncall.now_and_next(spec, now) for pk, spec in specs.items()}
    ids = {seg.user for pair in pairs.values() for seg in pair if seg and seg.user}
    users = get_user_model().objects.in_bulk(ids)
    for schedule in schedules:
        current, nxt = pairs.get(schedule.pk, (None, None))
        schedule._now_next = (current, nxt, users)


def _now_next_html(schedule, current, nxt, users):
    tz = ZoneInfo(schedule.time_zone)
    context = {
        "now": _who(current.user, users) if current and current.user else "",
        "until": _local(nxt.start, tz) if nxt else "",
        "next": (_who(nxt.user, users) if nxt.user else "nobody") if nxt else "",
    }
    return _render("admin/incidents/schedule/now_next.html", context)


def _day_strips(timeline, tz, now, users, colours) -> list[dict]:
    """One bar per local day, segments coloured by person and gaps in red."""
    if not timeline:
        return []
    first_day = now.astimezone(tz).date()
    strips = []
    for offset in range(15):
        day = first_day + timedelta(days=offset)
        day_start = oncall.localize(datetime.combine(day, datetime.min.time()), tz)
        day_end = oncall.localize(
            datetime.combine(day + timedelta(days=1), datetime.min.time()), tz
        )
        span = (day_end - day_start).total_seconds()
        pieces = []
        for seg in timeline:
            s, e = max(seg.start, day_start), min(seg.end, day_end)
            if e <= s:
                continue
            pieces.append(
                {
                    "left": str((s - day_start).total_seconds() / span * 100),
                    "width": str((e - s).total_seconds() / span * 100),
                    "colour": colours[seg.user] if seg.user else "#dc2626",
                    "gap_class": "oncall-bar-gap" if seg.user is None else "",
                    "label": _who(seg.user, users) if seg.user else "Nobody on call",
                }
            )
        if pieces:
            strips.append({"label": day.strftime("%a %d %b"), "pieces": pieces})
    return strips


def _render(template: str, context: dict):
    return mark_safe(render_to_string(template, context).strip())


@admin.register(Rotation)
class RotationAdmin(admin.ModelAdmin):
    """Fine edits of a layer; its people (their history too) are shown, changed on its schedule."""

    list_display = ("name", "schedule", "priority", "shift_label", "handoff_time", "start_date")
    list_select_related = ("schedule",)
    list_filter = ("schedule",)
    inlines = [ParticipantInline]
    fields = [
        "schedule",
        "name",
        "priority",
        ("shift_kind", "shift_hours"),
        ("handoff_time", "handoff_weekday"),
        ("start_date", "ends_at"),
        "restrict_weekdays",
        ("restrict_start", "restrict_end"),
    ]

    def has_add_permission(self, request):
        return False


# --- overrides and handoffs --------------------------------------------------------------------


@admin.register(Override)
class OverrideAdmin(admin.ModelAdmin):
    form = OverrideForm
    list_display = ("schedule", "user", "starts_at", "ends_at", "replaces", "reason", "created_by")
    list_filter = ("schedule",)
    list_select_related = ("schedule", "user", "replaces", "created_by")
    search_fields = ("user__username", "reason", "schedule__name")
    date_hierarchy = "starts_at"
    readonly_fields = ("created_by", "created_at")

    def save_model(self, request, obj, form, change):
        if change:  # the form re-ran the overlap check, excluding this row
            super().save_model(request, obj, form, change)
            return
        created = scheduling.override_create(
            schedule=obj.schedule,
            user=obj.user,
            start=obj.starts_at,
            end=obj.ends_at,
            replaces=obj.replaces,
            reason=obj.reason,
            actor=request.user,
        )
        obj.pk, obj.created_by, obj.created_at = created.pk, created.created_by, created.created_at
        obj._state.adding = False


class HandoffDeliveryInline(admin.TabularInline):
    model = HandoffDelivery
    extra = 0
    can_delete = False
    fields = ["kind", "masked_address", "notice", "sent_at", "attempts", "last_error"]
    readonly_fields = fields
    masked_address = staticmethod(masked_address)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Handoff)
class HandoffAdmin(admin.ModelAdmin):
    list_display = ("schedule", "at", "outgoing", "incoming", "created_at")
    list_filter = ("schedule",)
    list_select_related = ("schedule", "outgoing", "incoming")
    readonly_fields = ("schedule", "at", "outgoing", "incoming", "message", "created_at")
    inlines = [HandoffDeliveryInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
