"""Chat identities on the user's admin page (issue 13): link and unlink, with audit records."""

import pytest

from incidents.models import ChatIdentity, ConfigChange
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def form_data(user, rows=(), initial=(), delete=()):
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "is_staff": "on",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "chat_identities-TOTAL_FORMS": str(len(initial) + len(rows)),
        "chat_identities-INITIAL_FORMS": str(len(initial)),
        "chat_identities-MIN_NUM_FORMS": "0",
        "chat_identities-MAX_NUM_FORMS": "1000",
    }
    for i, identity in enumerate(initial):
        data[f"chat_identities-{i}-id"] = str(identity.pk)
        data[f"chat_identities-{i}-user"] = str(user.pk)
        if identity in delete:
            data[f"chat_identities-{i}-DELETE"] = "on"
    for j, (provider, external_id) in enumerate(rows, start=len(initial)):
        data[f"chat_identities-{j}-provider"] = provider
        data[f"chat_identities-{j}-external_id"] = external_id
        data[f"chat_identities-{j}-user"] = str(user.pk)
    return data


def test_the_user_page_links_and_unlinks_chat_accounts(admin_client):
    bob = UserFactory(username="bob")
    url = f"/admin/auth/user/{bob.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    assert b"chat identities" in page.content.lower()
    saved = admin_client.post(url, form_data(bob, rows=[("slack", "U0BOB")]))
    assert saved.status_code == 302, saved.context["errors"] if saved.context else saved
    identity = ChatIdentity.objects.get()
    assert (identity.user, identity.provider, identity.external_id) == (bob, "slack", "U0BOB")
    assert ConfigChange.objects.filter(object_id=str(identity.pk), action="added").exists()
    removed = admin_client.post(url, form_data(bob, initial=[identity], delete=[identity]))
    assert removed.status_code == 302
    assert not ChatIdentity.objects.exists()
    assert ConfigChange.objects.filter(object_id=str(identity.pk), action="deleted").exists()


def test_a_taken_or_malformed_id_is_shown_in_the_form(admin_client):
    bob = UserFactory(username="bob")
    ChatIdentity.objects.create(
        user=UserFactory(username="carol"), provider="slack", external_id="U0C"
    )
    url = f"/admin/auth/user/{bob.pk}/change/"
    taken = admin_client.post(url, form_data(bob, rows=[("slack", "U0C")]))
    assert taken.status_code == 200
    assert b"already exists" in taken.content
    spaced = admin_client.post(url, form_data(bob, rows=[("slack", "two words")]))
    assert spaced.status_code == 200
    assert b"one word" in spaced.content
    assert not ChatIdentity.objects.filter(user=bob).exists()


def test_my_paging_links_and_unlinks_my_own_chat_account(client):
    vera = UserFactory(username="vera")
    client.force_login(vera)
    page = client.get("/admin/my-paging/")
    assert page.status_code == 200
    assert b"Chat identities" in page.content
    added = client.post(
        "/admin/my-paging/chat/add/", {"provider": "mattermost", "external_id": "v" * 26}
    )
    assert added.status_code == 302
    identity = ChatIdentity.objects.get()
    assert identity.user == vera
    assert ConfigChange.objects.filter(object_id=str(identity.pk), action="added").exists()
    assert ("v" * 26).encode() in client.get("/admin/my-paging/").content
    other = UserFactory(username="olga")
    theirs = ChatIdentity.objects.create(user=other, provider="slack", external_id="U0OLGA")
    clash = client.post(
        "/admin/my-paging/chat/add/", {"provider": "slack", "external_id": "U0OLGA"}
    )
    assert clash.status_code == 200
    assert b"linked to another person already" in clash.content
    assert client.post(f"/admin/my-paging/chat/{theirs.pk}/delete/").status_code == 404
    assert client.post(f"/admin/my-paging/chat/{identity.pk}/delete/").status_code == 302
    assert list(ChatIdentity.objects.all()) == [theirs]
