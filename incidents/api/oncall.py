"""On-call API: schedules with their rotations, overrides, who is on call, the final shifts.

Views validate, call `incidents.oncall.schedules` or `incidents.oncall.compute`, serialize.
"""

import re
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.api.common.instants import (
    OUT_OF_RANGE,
    InstantField,
    date_in_range,
    instant_param,
)
from incidents.api.common.strict import StrictInput
from incidents.api.permissions import ModelPermissions
from incidents.core.choices import ContactKind
from incidents.core.contacts import check_contact_address, mask_address
from incidents.core.errors import DomainError
from incidents.core.timezones import validate_time_zone
from incidents.models import Override, Schedule
from incidents.oncall import compute as oncall
from incidents.oncall import schedules as scheduling

MAX_SHIFTS_WINDOW = timedelta(days=93)
_iso = serializers.DateTimeField()


def _username_field(**kwargs):
    return serializers.SlugRelatedField(
        slug_field="username", queryset=get_user_model().objects.all(), **kwargs
    )


HH_MM = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"


@extend_schema_field({"type": "string", "pattern": HH_MM, "example": "09:00"})
class WallClockField(serializers.TimeField):
    """A local wall-clock time, HH:MM (seconds allowed): no offset, no other ISO 8601 forms,
    so what is documented is exactly what is accepted."""

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "%H:%M")
        super().__init__(**kwargs)

    def to_internal_value(self, value):
        if not isinstance(value, str) or not re.fullmatch(HH_MM, value):
            self.fail("invalid", format="HH:MM")
        return super().to_internal_value(value)


def users_named(usernames):
    users = get_user_model().objects.in_bulk(usernames, field_name="username")
    unknown = [name for name in usernames if name not in users]
    if unknown:
        raise ValidationError(f"Unknown username(s): {', '.join(unknown)}.")
    return [users[name] for name in usernames]


# --- input -----------------------------------------------------------------------------------


class RotationInput(StrictInput, serializers.Serializer):
    name = serializers.CharField(max_length=120)
    participants = serializers.ListField(
        child=serializers.CharField(), allow_empty=False, help_text="Usernames, in turn order."
    )
    shift = serializers.CharField(help_text="'daily', 'weekly' or '<n>h' (e.g. '12h').")
    handoff_time = WallClockField(help_text="Local wall-clock time, HH:MM.")
    handoff_weekday = serializers.IntegerField(
        min_value=0, max_value=6, required=False, allow_null=True
    )
    start = serializers.DateField()
    end = InstantField(required=False, allow_null=True)
    restrict_weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), required=False, default=list
    )
    restrict_start = WallClockField(required=False, allow_null=True)
    restrict_end = WallClockField(required=False, allow_null=True)

    def validate_participants(self, usernames):
        return users_named(usernames)

    def validate_start(self, value):
        if not date_in_range(value):
            raise ValidationError(OUT_OF_RANGE)
        return value

    def validate_shift(self, value):
        try:
            return scheduling.parse_shift(value)
        except DomainError as error:
            raise ValidationError(error.message) from error

    def validate(self, attrs):
        try:
            scheduling.check_restriction_hours(
                attrs.get("restrict_start"), attrs.get("restrict_end")
            )
        except DomainError as error:
            raise ValidationError({error.field: error.message}) from error
        return attrs

    def to_rotation(self, attrs) -> scheduling.RotationInput:
        kind, hours = attrs["shift"]
        return scheduling.RotationInput(
            name=attrs["name"],
            participants=attrs["participants"],
            handoff_time=attrs["handoff_time"],
            start_date=attrs["start"],
            shift_kind=kind,
            shift_hours=hours,
            handoff_weekday=attrs.get("handoff_weekday"),
            ends_at=attrs.get("end"),
            restrict_weekdays=attrs.get("restrict_weekdays") or [],
            restrict_start=attrs.get("restrict_start"),
            restrict_end=attrs.get("restrict_end"),
        )


class ChannelSerializer(StrictInput, serializers.Serializer):
    kind = serializers.ChoiceField(choices=ContactKind.choices)
    address = serializers.CharField(max_length=500)

    def validate(self, attrs):
        try:
            check_contact_address(attrs["kind"], attrs["address"])
        except DomainError as error:
            raise ValidationError({error.field or "address": error.message}) from error
        return attrs

    def to_representation(self, instance):
        shown = super().to_representation(instance)
        if not self.context.get("reveal"):  # shown in full only in the answer that saves it
            shown["address"] = mask_address(shown["address"])
        return shown


class ScheduleInput(StrictInput, serializers.Serializer):
    name = serializers.CharField(max_length=120)
    time_zone = serializers.CharField(max_length=64, validators=[validate_time_zone])
    description = serializers.CharField(required=False, allow_blank=True, default="")
    backup_schedule = serializers.PrimaryKeyRelatedField(
        queryset=Schedule.objects.all(), required=False, allow_null=True
    )
    rotations = RotationInput(many=True, allow_empty=False, help_text="Highest priority first.")
    handoff_notify = ChannelSerializer(many=True, required=False, default=list)

    def validate_name(self, value):
        if Schedule.objects.filter(name=value).exists():
            raise ValidationError(f"A schedule named {value!r} already exists.")
        return value


class OverrideInput(StrictInput, serializers.Serializer):
    user = _username_field()
    start = InstantField()
    end = InstantField()
    replaces = _username_field(required=False, allow_null=True)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)

    def validate(self, attrs):
        if attrs["end"] <= attrs["start"]:
            raise ValidationError({"end": "The override must end after it starts."})
        return attrs


# --- output ----------------------------------------------------------------------------------


class RotationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    priority = serializers.IntegerField()
    participants = serializers.SerializerMethodField()
    shift = serializers.CharField(source="shift_label")
    handoff_time = WallClockField()
    handoff_weekday = serializers.IntegerField(allow_null=True)
    start = serializers.DateField(source="start_date")
    end = serializers.DateTimeField(source="ends_at", allow_null=True)
    restrict_weekdays = serializers.ListField(child=serializers.IntegerField())
    restrict_start = WallClockField(allow_null=True)
    restrict_end = WallClockField(allow_null=True)

    participants_from = serializers.SerializerMethodField(
        help_text="When `participants` took or take over (null: from the start)."
    )

    def get_participants(self, rotation) -> list[str]:
        return [p.user.username for p in rotation.latest_participants()]

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_participants_from(self, rotation) -> str | None:
        latest = rotation.latest_participants()
        moment = latest[0].effective_from if latest else None
        return _iso.to_representation(moment) if moment else None


class ScheduleOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    time_zone = serializers.CharField()
    description = serializers.CharField()
    backup_schedule = serializers.IntegerField(source="backup_schedule_id", allow_null=True)
    ical_url = serializers.CharField()
    rotations = RotationOutput(many=True)
    handoff_notify = ChannelSerializer(many=True, source="handoff_channels.all")
    oncall_now = serializers.SerializerMethodField(help_text="Usernames on call now.")
    next = serializers.SerializerMethodField(help_text="The next shift change, if any in 35 days.")

    def _now_next(self, schedule):
        cached = self.context.get("now_next", {})
        if schedule.pk not in cached:
            spec = oncall.load_spec(schedule)
            cached[schedule.pk] = oncall.now_and_next(spec, timezone.now())
        return cached[schedule.pk]

    def _username(self, user_id):
        usernames = self.context.get("usernames")
        if usernames is None or user_id not in usernames:
            return get_user_model().objects.get(pk=user_id).username
        return usernames[user_id]

    def get_oncall_now(self, schedule) -> list[str]:
        current, _ = self._now_next(schedule)
        return [self._username(current.user)] if current and current.user else []

    def get_next(self, schedule) -> dict | None:
        _, nxt = self._now_next(schedule)
        if nxt is None:
            return None
        return {
            "user": self._username(nxt.user) if nxt.user else None,
            "start": _iso.to_representation(nxt.start),
        }


class OverrideOutput(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username")
    replaces = serializers.CharField(source="replaces.username", allow_null=True, default=None)
    start = serializers.DateTimeField(source="starts_at")
    end = serializers.DateTimeField(source="ends_at")

    class Meta:
        model = Override
        fields = ["id", "schedule", "user", "start", "end", "replaces", "reason", "created_at"]


class ShiftOutput(serializers.Serializer):
    user = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


# --- views -----------------------------------------------------------------------------------


def schedule_queryset():
    return Schedule.objects.prefetch_related("handoff_channels", "rotations__participants__user")


def now_next_context(schedules) -> dict:
    """Who is on call now and next for many schedules with a fixed number of queries."""
    now = timezone.now()
    specs = oncall.load_specs(schedules)
    now_next = {pk: oncall.now_and_next(spec, now) for pk, spec in specs.items()}
    ids = {seg.user for pair in now_next.values() for seg in pair if seg and seg.user}
    usernames = dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))
    return {"now_next": now_next, "usernames": usernames}


class ScheduleListCreate(generics.GenericAPIView):
    """List schedules (with who is on call now and next) or create one with its rotations."""

    queryset = Schedule.objects.all()
    serializer_class = ScheduleOutput

    @extend_schema(responses=ScheduleOutput(many=True))
    def get(self, request):
        page = self.paginate_queryset(schedule_queryset())
        context = now_next_context(page)
        return self.get_paginated_response(ScheduleOutput(page, many=True, context=context).data)

    @extend_schema(request=ScheduleInput, responses={201: ScheduleOutput})
    def post(self, request):
        data = ScheduleInput(data=request.data)
        data.is_valid(raise_exception=True)
        attrs = data.validated_data
        rotations_field = data.fields["rotations"].child
        schedule = scheduling.schedule_create(
            name=attrs["name"],
            time_zone=attrs["time_zone"],
            description=attrs["description"],
            backup_schedule=attrs.get("backup_schedule"),
            rotations=[rotations_field.to_rotation(r) for r in attrs["rotations"]],
            handoff_notify=[(c["kind"], c["address"]) for c in attrs["handoff_notify"]],
            actor=request.user,
        )
        schedule = schedule_queryset().get(pk=schedule.pk)
        context = {**now_next_context([schedule]), "reveal": True}
        return Response(
            ScheduleOutput(schedule, context=context).data, status=status.HTTP_201_CREATED
        )


class ScheduleDetail(APIView):
    queryset = Schedule.objects.all()

    @extend_schema(responses=ScheduleOutput)
    def get(self, request, pk: int):
        schedule = get_object_or_404(schedule_queryset(), pk=pk)
        return Response(ScheduleOutput(schedule, context=now_next_context([schedule])).data)


class ChangeToPost(ModelPermissions):
    """A POST that changes the schedule (not one that adds a row) needs its change permission."""

    perms_map = {**ModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


class ScheduleRotateIcal(APIView):
    """A new secret iCal URL for the schedule; the old one answers 404 from now on."""

    queryset = Schedule.objects.all()
    permission_classes = [ChangeToPost]

    @extend_schema(request=None, responses=ScheduleOutput)
    def post(self, request, pk: int):
        schedule = get_object_or_404(Schedule, pk=pk)
        scheduling.schedule_rotate_ical(schedule=schedule, actor=request.user)
        schedule = schedule_queryset().get(pk=pk)
        return Response(ScheduleOutput(schedule, context=now_next_context([schedule])).data)


class ScheduleOverrides(APIView):
    """Overrides of a schedule: list the current and future ones, or add one."""

    queryset = Override.objects.all()

    @extend_schema(responses=OverrideOutput(many=True))
    def get(self, request, pk: int):
        schedule = get_object_or_404(Schedule, pk=pk)
        rows = schedule.overrides.filter(ends_at__gt=timezone.now()).select_related(
            "user", "replaces"
        )
        return Response(OverrideOutput(rows, many=True).data)

    @extend_schema(request=OverrideInput, responses={201: OverrideOutput})
    def post(self, request, pk: int):
        schedule = get_object_or_404(Schedule, pk=pk)
        data = OverrideInput(data=request.data)
        data.is_valid(raise_exception=True)
        attrs = data.validated_data
        override = scheduling.override_create(
            schedule=schedule,
            user=attrs["user"],
            start=attrs["start"],
            end=attrs["end"],
            replaces=attrs.get("replaces"),
            reason=attrs["reason"],
            actor=request.user,
        )
        return Response(OverrideOutput(override).data, status=status.HTTP_201_CREATED)


class ScheduleOncall(APIView):
    queryset = Schedule.objects.all()

    @extend_schema(
        parameters=[OpenApiParameter("at", OpenApiTypes.DATETIME, description="Default: now.")],
        responses=inline_serializer(
            "Oncall", fields={"users": serializers.ListField(child=serializers.CharField())}
        ),
    )
    def get(self, request, pk: int):
        schedule = get_object_or_404(Schedule, pk=pk)
        at = instant_param(request, "at", default=timezone.now())
        return Response({"users": [u.username for u in oncall.oncall_users(schedule, at)]})


class ScheduleShifts(APIView):
    queryset = Schedule.objects.all()

    @extend_schema(
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter(
                "end",
                OpenApiTypes.DATETIME,
                required=True,
                description="At most 93 days after start.",
            ),
        ],
        responses=ShiftOutput(many=True),
    )
    def get(self, request, pk: int):
        schedule = get_object_or_404(Schedule, pk=pk)
        start, end = instant_param(request, "start"), instant_param(request, "end")
        if end <= start:
            raise ValidationError({"end": ["The window must end after it starts."]})
        if end - start > MAX_SHIFTS_WINDOW:
            raise ValidationError(
                {"end": [f"The window is at most {MAX_SHIFTS_WINDOW.days} days."]}
            )
        return Response(
            [
                {
                    "user": shift.user.username,
                    "start": _iso.to_representation(shift.start),
                    "end": _iso.to_representation(shift.end),
                }
                for shift in oncall.final_shifts(schedule, start, end)
            ]
        )
