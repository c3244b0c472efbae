"""Chat identities: which Tocsin user a Slack or Mattermost account acts as.

Anyone may link or unlink their own chat accounts; doing it for someone else needs the model
permission (`incidents.add_chatidentity` / `delete_chatidentity`). Each change runs in one
transaction and leaves an audit record with its actor. A chat account belongs to one person
at most: linking one that is taken already is refused on the field `external_id`.
"""

from django.db import IntegrityError, transaction

from incidents.core.audit import audit_added, audit_deleted
from incidents.core.choices import ChatProvider
from incidents.core.errors import DomainError
from incidents.core.policy import NotAllowed
from incidents.models import ChatIdentity

MAX_EXTERNAL_ID = 64


def _check_actor(*, owner, actor, perm: str) -> None:
    if actor is not None and actor.pk != owner.pk and not actor.has_perm(perm):
        raise NotAllowed(f"You need the {perm} permission for someone else's chat identities.")


def clean_external_id(external_id: str) -> str:
    value = (external_id or "").strip()
    if not value:
        raise DomainError("Give the chat user id.", field="external_id")
    if len(value) > MAX_EXTERNAL_ID or any(c.isspace() or not c.isprintable() for c in value):
        raise DomainError(
            f"A chat user id is one word of at most {MAX_EXTERNAL_ID} characters "
            "(Slack's U0123ABCD, Mattermost's 26-character user id).",
            field="external_id",
        )
    return value


@transaction.atomic
def chat_identity_add(*, user, provider: str, external_id: str, actor=None) -> ChatIdentity:
    """Link the chat account `external_id` of `provider` to `user`."""
    _check_actor(owner=user, actor=actor, perm="incidents.add_chatidentity")
    if provider not in ChatProvider.values:
        raise DomainError(
            f"Unknown provider {provider!r}: use slack or mattermost.", field="provider"
        )
    external_id = clean_external_id(external_id)
    taken = ChatIdentity.objects.filter(provider=provider, external_id=external_id)
    taken = taken.select_related("user").first()
    if taken is not None:
        whose = "you" if taken.user_id == user.pk else "another person"
        raise DomainError(
            f"This {ChatProvider(provider).label} account is linked to {whose} already.",
            field="external_id",
        )
    try:
        with transaction.atomic():
            identity = ChatIdentity.objects.create(
                user=user, provider=provider, external_id=external_id
            )
    except IntegrityError as error:  # linked by someone else at the same moment
        raise DomainError(
            f"This {ChatProvider(provider).label} account is linked already.",
            field="external_id",
        ) from error
    audit_added(actor=actor, obj=identity)
    return identity


@transaction.atomic
def chat_identity_remove(*, identity: ChatIdentity, actor=None) -> None:
    """Unlink a chat account: its commands and clicks act as nobody any more."""
    _check_actor(owner=identity.user, actor=actor, perm="incidents.delete_chatidentity")
    audit_deleted(actor=actor, obj=identity)
    ChatIdentity.objects.filter(pk=identity.pk).delete()


def user_for(*, provider: str, external_id: str):
    """The active Tocsin user whose chat account this is, or None."""
    identity = (
        ChatIdentity.objects.filter(provider=provider, external_id=(external_id or "").strip())
        .select_related("user")
        .first()
    )
    if identity is None or not identity.user.is_active:
        return None
    return identity.user
