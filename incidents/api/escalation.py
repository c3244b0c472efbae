"""Escalation API: policies, a person's contact methods, "escalate now", "page someone".

Views validate, call `incidents.paging.policies`, `incidents.paging.delivery` or `incidents.paging.engine`, serialize.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.api.common.strict import StrictInput
from incidents.api.permissions import allowed
from incidents.api.serializers import EscalationOutput
from incidents.core.contacts import mask_address
from incidents.core.policy import Action
from incidents.models import (
    ContactKind,
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    EscalationTarget,
    Incident,
    RoundRobinMember,
    Schedule,
    TargetType,
    TeamChannel,
)
from incidents.paging import engine as escalation
from incidents.paging import fallback as paging
from incidents.paging import personal
from incidents.paging.policies import (
    RoundRobin,
    StepInput,
    escalation_policy_create,
    escalation_policy_set_default,
)

# --- input -------------------------------------------------------------------------------------


class TargetInput(StrictInput, serializers.Serializer):
    type = serializers.ChoiceField(choices=TargetType.choices)
    id = serializers.IntegerField(required=False, help_text="Schedule or team channel id.")
    username = serializers.CharField(required=False, help_text="For a user target.")
    usernames = serializers.ListField(
        child=serializers.CharField(max_length=150),
        required=False,
        max_length=100,
        help_text="For a round-robin target: the people who take new incidents in turn, in order.",
    )

    def validate(self, data):
        kind = data["type"]
        if kind == TargetType.ROUND_ROBIN:
            return self._round_robin(data.get("usernames"))
        if kind == TargetType.USER:
            username = data.get("username")
            if not username:
                raise serializers.ValidationError({"username": ["A user target needs a username."]})
            user = get_user_model().objects.filter(username=username, is_active=True).first()
            if user is None:
                raise serializers.ValidationError({"username": [f"Unknown user {username!r}."]})
            return user
        model = Schedule if kind == TargetType.SCHEDULE else TeamChannel
        if data.get("id") is None:
            raise serializers.ValidationError({"id": [f"A {kind} target needs an id."]})
        found = model.objects.filter(pk=data["id"]).first()
        if found is None:
            raise serializers.ValidationError({"id": [f"Unknown {kind} {data['id']}."]})
        return found

    def _round_robin(self, names) -> RoundRobin:
        if not names:
            raise serializers.ValidationError(
                {"usernames": ["A round-robin target needs the usernames it takes turns between."]}
            )
        found = {
            u.username: u
            for u in get_user_model().objects.filter(username__in=names, is_active=True)
        }
        unknown = [name for name in names if name not in found]
        if unknown:
            raise serializers.ValidationError(
                {"usernames": [f"Unknown user(s): {', '.join(unknown)}."]}
            )
        # Repeats and lists of one are the domain's to refuse (field "targets").
        return RoundRobin(users=[found[name] for name in names])


class StepInputSerializer(StrictInput, serializers.Serializer):
    delay_seconds = serializers.IntegerField(min_value=0, max_value=7 * 24 * 3600)
    targets = TargetInput(many=True, allow_empty=False)


class PolicyInput(StrictInput, serializers.Serializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    repeat = serializers.IntegerField(min_value=0, max_value=100, required=False, default=0)
    repeat_delay_seconds = serializers.IntegerField(
        min_value=0, max_value=24 * 3600, required=False, allow_null=True, default=None
    )
    steps = StepInputSerializer(many=True, allow_empty=False)
    default = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Page with this policy for any paging incident nothing else covers; "
        "the previous default stops being one.",
    )


class ContactMethodInput(StrictInput, serializers.Serializer):
    kind = serializers.ChoiceField(choices=ContactKind.choices)
    address = serializers.CharField(max_length=500)
    label = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    notify_after_seconds = serializers.IntegerField(
        min_value=0,
        max_value=24 * 3600,
        required=False,
        allow_null=True,
        default=None,
        help_text="Also add a personal rule: use this method this long after being paged.",
    )


# --- output ------------------------------------------------------------------------------------


class TargetOutput(serializers.Serializer):
    """A schedule, user or channel target with its id, name (and username); a round robin as
    `{"type": "round_robin", "usernames": [...]}`, in turn order."""

    type = serializers.CharField()
    id = serializers.SerializerMethodField()
    name = serializers.SerializerMethodField()
    username = serializers.SerializerMethodField()
    usernames = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Round robin only."
    )

    def to_representation(self, target):
        if target.type == TargetType.ROUND_ROBIN:
            return {
                "type": target.type,
                "usernames": [m.user.get_username() for m in target.members.all()],
            }
        data = super().to_representation(target)
        data.pop("usernames", None)
        return data

    def get_id(self, target) -> int:
        return target.schedule_id or target.channel_id or target.user_id

    def get_name(self, target) -> str:
        return str(target.schedule or target.channel or target.user)

    def get_username(self, target) -> str | None:
        return target.user.get_username() if target.user_id else None


class StepOutput(serializers.Serializer):
    delay_seconds = serializers.SerializerMethodField()
    targets = TargetOutput(many=True)

    def get_delay_seconds(self, step) -> int:
        return int(step.delay.total_seconds())


class PolicyOutput(serializers.ModelSerializer):
    repeat_delay_seconds = serializers.SerializerMethodField()
    steps = StepOutput(many=True)
    default = serializers.BooleanField(source="is_default", read_only=True)

    class Meta:
        model = EscalationPolicy
        fields = ["id", "name", "description", "repeat", "repeat_delay_seconds", "default", "steps"]

    def get_repeat_delay_seconds(self, policy) -> int:
        return int(policy.repeat_delay.total_seconds())


class ContactMethodOutput(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username")
    address = serializers.SerializerMethodField(
        help_text="Masked (a webhook URL is a credential), except in the answer that saves it."
    )

    class Meta:
        model = ContactMethod
        fields = ["id", "user", "kind", "address", "label", "created_at"]

    def get_address(self, method) -> str:
        return method.address if self.context.get("reveal") else mask_address(method.address)


# --- views -------------------------------------------------------------------------------------


def _policies():
    return EscalationPolicy.objects.prefetch_related(
        Prefetch(
            "steps",
            queryset=EscalationStep.objects.order_by("order", "id").prefetch_related(
                Prefetch(
                    "targets",
                    queryset=EscalationTarget.objects.select_related(
                        "schedule", "user", "channel"
                    ).prefetch_related(
                        Prefetch(
                            "members",
                            queryset=RoundRobinMember.objects.select_related("user").order_by(
                                "position", "id"
                            ),
                        )
                    ),
                )
            ),
        )
    )


class EscalationPolicyListCreate(generics.GenericAPIView):
    queryset = EscalationPolicy.objects.all()
    serializer_class = PolicyOutput

    @extend_schema(responses=PolicyOutput(many=True))
    def get(self, request):
        page = self.paginate_queryset(_policies())
        return self.get_paginated_response(PolicyOutput(page, many=True).data)

    @extend_schema(request=PolicyInput, responses={201: PolicyOutput})
    def post(self, request):
        data = PolicyInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        delay = fields["repeat_delay_seconds"]
        policy = escalation_policy_create(
            name=fields["name"],
            description=fields["description"],
            repeat=fields["repeat"],
            repeat_delay=timedelta(seconds=delay) if delay is not None else None,
            default=fields["default"],
            actor=request.user,
            steps=[
                StepInput(delay=timedelta(seconds=s["delay_seconds"]), targets=s["targets"])
                for s in fields["steps"]
            ],
        )
        return Response(
            PolicyOutput(_policies().get(pk=policy.pk)).data, status=status.HTTP_201_CREATED
        )


class PolicyDefaultInput(StrictInput, serializers.Serializer):
    default = serializers.BooleanField()


class EscalationPolicyDetail(generics.RetrieveAPIView):
    queryset = _policies()
    serializer_class = PolicyOutput

    @extend_schema(request=PolicyDefaultInput, responses=PolicyOutput)
    def patch(self, request, pk: int):
        """Make the policy the default (the previous default stops being one), or not."""
        policy = self.get_object()
        data = PolicyDefaultInput(data=request.data)
        data.is_valid(raise_exception=True)
        escalation_policy_set_default(
            policy=policy, default=data.validated_data["default"], actor=request.user
        )
        return Response(PolicyOutput(_policies().get(pk=policy.pk)).data)


class UserContactMethods(APIView):
    """A person's contact methods. Anyone may manage their own; others need the permission."""

    queryset = ContactMethod.objects.all()
    # Checked per person in `_user`: one's own methods need no model permission.
    permission_classes = [IsAuthenticated]

    def _user(self, request, username: str, perm: str):
        if "\x00" in username:
            # No username holds a NUL, and PostgreSQL refuses to compare text with one.
            raise Http404
        user = get_object_or_404(get_user_model(), username=username)
        if user.pk != request.user.pk and not request.user.has_perm(perm):
            raise PermissionDenied(f"You need the {perm} permission for someone else's methods.")
        return user

    @extend_schema(responses=ContactMethodOutput(many=True))
    def get(self, request, username: str):
        user = self._user(request, username, "incidents.view_contactmethod")
        methods = ContactMethod.objects.filter(user=user).select_related("user")
        return Response(ContactMethodOutput(methods, many=True).data)

    @extend_schema(request=ContactMethodInput, responses={201: ContactMethodOutput})
    def post(self, request, username: str):
        user = self._user(request, username, "incidents.add_contactmethod")
        data = ContactMethodInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        after = fields["notify_after_seconds"]
        method = personal.contact_method_add(
            user=user,
            actor=request.user,
            kind=fields["kind"],
            address=fields["address"],
            label=fields["label"],
            notify_after=timedelta(seconds=after) if after is not None else None,
        )
        return Response(
            ContactMethodOutput(method, context={"reveal": True}).data,
            status=status.HTTP_201_CREATED,
        )


class ContactMethodTestOutput(serializers.Serializer):
    notification = serializers.IntegerField(help_text="The queued test's row in the delivery log.")
    status = serializers.CharField()


class UserContactMethodTest(UserContactMethods):
    """Queue a test notification to one of a person's contact methods (one's own, or with the
    change permission); its delivery-log row tells whether it arrived."""

    http_method_names = ["post", "options"]

    @extend_schema(request=None, responses={202: ContactMethodTestOutput})
    def post(self, request, username: str, pk: int):
        user = self._user(request, username, "incidents.change_contactmethod")
        method = get_object_or_404(ContactMethod.objects.select_related("user"), pk=pk, user=user)
        row = personal.contact_method_test(method=method, actor=request.user)
        return Response(
            ContactMethodTestOutput({"notification": row.pk, "status": row.status}).data,
            status=status.HTTP_202_ACCEPTED,
        )


class IncidentEscalate(APIView):
    """Fire the incident's pending escalation step now."""

    permission_classes = [allowed(Action.ESCALATE_NOW)]
    conflicts = {"POST": "The escalation is not active: there is no pending step to fire."}

    @extend_schema(request=None, responses=EscalationOutput)
    def post(self, request, pk: int):
        incident = get_object_or_404(Incident, pk=pk)
        row = escalation.escalation_escalate_now(incident=incident, actor=request.user)
        return Response(EscalationOutput(row).data)


class PageInput(StrictInput, serializers.Serializer):
    users = serializers.ListField(
        child=serializers.CharField(max_length=150), required=False, default=list, max_length=100
    )
    schedules = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        default=list,
        max_length=100,
    )
    message = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)

    def validate_users(self, names):
        found = {
            u.username: u
            for u in get_user_model().objects.filter(username__in=names, is_active=True)
        }
        unknown = [name for name in names if name not in found]
        if unknown:
            raise serializers.ValidationError(f"Unknown user(s): {', '.join(unknown)}.")
        return [found[name] for name in dict.fromkeys(names)]

    def validate_schedules(self, ids):
        found = Schedule.objects.in_bulk(ids)
        unknown = [str(pk) for pk in ids if pk not in found]
        if unknown:
            raise serializers.ValidationError(f"Unknown schedule(s): {', '.join(unknown)}.")
        return [found[pk] for pk in dict.fromkeys(ids)]

    def validate(self, data):
        if not data["users"] and not data["schedules"]:
            raise serializers.ValidationError(
                {"users": ["Name at least one user or schedule to page."]}
            )
        return data


class PageOutput(serializers.Serializer):
    paged = serializers.ListField(child=serializers.CharField(), help_text="Usernames paged.")
    notifications = serializers.IntegerField(help_text="Notifications queued.")
    responders = serializers.ListField(child=serializers.CharField())


class IncidentPage(APIView):
    """Page people, or whoever is on call for schedules, now; they become responders."""

    permission_classes = [allowed(Action.PAGE)]
    conflicts = {"POST": "The incident is resolved: reopen it to page anyone."}

    @extend_schema(request=PageInput, responses={202: PageOutput})
    def post(self, request, pk: int):
        incident = get_object_or_404(Incident, pk=pk)
        data = PageInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        queued = paging.incident_page(
            incident=incident,
            users=fields["users"],
            schedules=fields["schedules"],
            message=fields["message"],
            actor=request.user,
        )
        responders = incident.responders.select_related("user").order_by("user__username")
        body = {
            "paged": sorted({n.recipient for n in queued}),
            "notifications": len(queued),
            "responders": [r.user.get_username() for r in responders],
        }
        return Response(PageOutput(body).data, status=status.HTTP_202_ACCEPTED)
