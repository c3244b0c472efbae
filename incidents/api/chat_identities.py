"""A person's chat identities: `/api/v1/users/{username}/chat-identities/` (list, link) and
`.../{id}/` (unlink). Anyone may manage their own; someone else's need the model permission.
The rules are in `incidents.paging.actions.identities`."""

from django.contrib.auth import get_user_model
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.api.common.strict import StrictInput
from incidents.core.choices import ChatProvider
from incidents.models import ChatIdentity
from incidents.paging.actions import identities


class ChatIdentityInput(StrictInput, serializers.Serializer):
    provider = serializers.ChoiceField(choices=ChatProvider.choices)
    external_id = serializers.CharField(
        max_length=identities.MAX_EXTERNAL_ID,
        help_text="The chat user's id: Slack's U0123ABCD, Mattermost's 26-character user id.",
    )


class ChatIdentityOutput(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username")

    class Meta:
        model = ChatIdentity
        fields = ["id", "user", "provider", "external_id", "created_at"]


def _person(request, username: str, perm: str):
    if "\x00" in username:
        raise Http404  # no username holds a NUL, and PostgreSQL refuses to compare one
    user = get_object_or_404(get_user_model(), username=username)
    if user.pk != request.user.pk and not request.user.has_perm(perm):
        raise PermissionDenied(f"You need the {perm} permission for someone else's identities.")
    return user


class UserChatIdentities(APIView):
    """Whose Slack or Mattermost commands and clicks these are."""

    queryset = ChatIdentity.objects.all()
    permission_classes = [IsAuthenticated]  # per person in `_person`

    @extend_schema(responses=ChatIdentityOutput(many=True))
    def get(self, request, username: str):
        user = _person(request, username, "incidents.view_chatidentity")
        rows = ChatIdentity.objects.filter(user=user).select_related("user")
        return Response(ChatIdentityOutput(rows, many=True).data)

    @extend_schema(request=ChatIdentityInput, responses={201: ChatIdentityOutput})
    def post(self, request, username: str):
        user = _person(request, username, "incidents.add_chatidentity")
        data = ChatIdentityInput(data=request.data)
        data.is_valid(raise_exception=True)
        identity = identities.chat_identity_add(
            user=user,
            actor=request.user,
            provider=data.validated_data["provider"],
            external_id=data.validated_data["external_id"],
        )
        return Response(ChatIdentityOutput(identity).data, status=status.HTTP_201_CREATED)


class UserChatIdentity(APIView):
    queryset = ChatIdentity.objects.all()
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, username: str, pk: int):
        user = _person(request, username, "incidents.delete_chatidentity")
        identity = get_object_or_404(ChatIdentity.objects.select_related("user"), pk=pk, user=user)
        identities.chat_identity_remove(identity=identity, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
