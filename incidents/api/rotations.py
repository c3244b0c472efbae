"""Rotation edits over the API: new participants from a moment on, with the shifts that move.

`PATCH /api/v1/schedules/{id}/rotations/{rotation_id}/` takes `participants` and an optional
`effective_from`; the view validates and calls `incidents.oncall.rotations`.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.api.common.instants import InstantField
from incidents.api.common.strict import StrictInput
from incidents.api.oncall import RotationOutput, users_named
from incidents.models import Rotation
from incidents.oncall import rotations


class RotationPeopleInput(StrictInput, serializers.Serializer):
    participants = serializers.ListField(
        child=serializers.CharField(), allow_empty=False, help_text="Usernames, in turn order."
    )
    effective_from = InstantField(
        required=False,
        allow_null=True,
        help_text="Shifts starting from here take the new order (default: now); earlier shifts "
        "and the one in progress keep their people. Not in the past.",
    )

    def validate_participants(self, usernames):
        return users_named(usernames)

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {
                    name: "Not changed here: only participants and effective_from."
                    for name in unknown
                }
            )
        return attrs


class MoveOutput(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    before = serializers.CharField(allow_null=True)
    after = serializers.CharField(allow_null=True)


class RotationPeopleOutput(RotationOutput):
    effective_from = serializers.DateTimeField()
    moved = MoveOutput(many=True, help_text="Stretches of the next 6 weeks whose person changed.")


class ScheduleRotation(APIView):
    """Change who takes turns in a rotation, from a moment on."""

    queryset = Rotation.objects.all()

    @extend_schema(request=RotationPeopleInput, responses=RotationPeopleOutput)
    def patch(self, request, pk: int, rotation_pk: int):
        rotation = get_object_or_404(
            Rotation.objects.select_related("schedule"), pk=rotation_pk, schedule_id=pk
        )
        data = RotationPeopleInput(data=request.data)
        data.is_valid(raise_exception=True)
        plan = rotations.rotation_set_participants(
            rotation=rotation,
            users=data.validated_data["participants"],
            effective_from=data.validated_data.get("effective_from"),
            actor=request.user,
        )
        rotation = Rotation.objects.prefetch_related("participants__user").get(pk=rotation.pk)
        usernames = {pk: user.username for pk, user in plan.users.items()}
        rotation.effective_from = plan.effective_from
        rotation.moved = [
            {
                "start": move.start,
                "end": move.end,
                "before": usernames.get(move.before),
                "after": usernames.get(move.after),
            }
            for move in plan.moves
        ]
        return Response(RotationPeopleOutput(rotation).data)
