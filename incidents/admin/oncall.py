"""On-call admin: schedules with their layers, the 14-day final schedule, overrides, handoffs.

The forms are in `schedule_forms`, what the pages show in `schedule_display`.
"""

from zoneinfo import ZoneInfo

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from incidents.admin.audit import DomainAdmin
from incidents.admin.rotation_edits import ConfirmParticipantsMixin
from incidents.admin.rotation_edits import local_time as _local
from incidents.admin.schedule_display import (
    attach_now_next,
    final_schedule_html,
    now_next_html,
    render,
)
from incidents.admin.schedule_forms import (
    HandoffChannelForm,
    OverrideForm,
    RotationForm,
    ScheduleForm,
    TakeShiftForm,
)
from incidents.admin.secrets import MaskedForViewers, announce_saved_formset, masked_address
from incidents.core.audit import config_save
from incidents.core.errors import DomainError
from incidents.models import (
    Handoff,
    HandoffChannel,
    HandoffDelivery,
    Override,
    Rotation,
    RotationParticipant,
    Schedule,
)
from incidents.oncall import rotations
from incidents.oncall import schedules as scheduling

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
class ScheduleAdmin(ConfirmParticipantsMixin, DomainAdmin):
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
        attach_now_next(rows)
        return changelist

    @admin.display(description="Layers")
    def layer_count(self, obj):
        return len(obj.rotations.all())

    @admin.display(description="On call now / next")
    def oncall_now_next(self, obj):
        current, nxt, users = getattr(obj, "_now_next", (None, None, {}))
        return now_next_html(obj, current, nxt, users)

    @admin.display(description="Now")
    def oncall_summary(self, obj):
        attach_now_next([obj])
        current, nxt, users = obj._now_next
        return now_next_html(obj, current, nxt, users)

    @admin.display(description="Calendar (iCal)")
    def ical_link(self, obj):
        return render("admin/incidents/schedule/ical_link.html", {"url": obj.ical_url})

    @admin.display(description="Next 14 days")
    def final_schedule(self, obj):
        return final_schedule_html(obj)

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

    def domain_save(self, request, obj, form, change):
        if change:
            config_save(obj=obj, actor=request.user)
        # A new schedule is made with its layers and channels at once, in save_related.

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)
            return
        rows = {formset.model: _kept(formset) for formset in formsets}
        schedule = scheduling.schedule_create(
            name=form.cleaned_data["name"],
            time_zone=form.cleaned_data["time_zone"],
            description=form.cleaned_data.get("description", ""),
            backup_schedule=form.cleaned_data.get("backup_schedule"),
            rotations=[_rotation_input(data) for data in rows.get(Rotation, [])],
            handoff_notify=[(d["kind"], d["address"]) for d in rows.get(HandoffChannel, [])],
            actor=request.user,
        )
        form.instance.pk, form.instance._state.adding = schedule.pk, False

    def domain_save_inline(self, request, obj, inline_form, parent):
        if isinstance(obj, HandoffChannel):
            scheduling.handoff_channel_save(channel=obj, actor=request.user)
        else:
            config_save(obj=obj, actor=request.user)

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


def _kept(formset) -> list[dict]:
    """The cleaned rows of a new schedule's inline that are filled in and not deleted."""
    return [
        form.cleaned_data
        for form in formset.forms
        if form.cleaned_data and not form.cleaned_data.get("DELETE")
    ]


def _rotation_input(data: dict) -> scheduling.RotationInput:
    return scheduling.RotationInput(
        name=data["name"],
        priority=data.get("priority"),
        participants=data["participant_usernames"],
        shift_kind=data["shift_kind"],
        shift_hours=data.get("shift_hours"),
        handoff_time=data["handoff_time"],
        handoff_weekday=data.get("handoff_weekday"),
        start_date=data["start_date"],
        ends_at=data.get("ends_at"),
        restrict_weekdays=data.get("restrict_weekdays") or [],
        restrict_start=data.get("restrict_start"),
        restrict_end=data.get("restrict_end"),
    )


@admin.register(Rotation)
class RotationAdmin(DomainAdmin):
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
class OverrideAdmin(DomainAdmin):
    form = OverrideForm
    list_display = ("schedule", "user", "starts_at", "ends_at", "replaces", "reason", "created_by")
    list_filter = ("schedule",)
    list_select_related = ("schedule", "user", "replaces", "created_by")
    search_fields = ("user__username", "reason", "schedule__name")
    date_hierarchy = "starts_at"
    readonly_fields = ("created_by", "created_at")

    def domain_save(self, request, obj, form, change):
        if change:
            scheduling.override_update(override=obj, actor=request.user)
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
