"""A person with no contact methods is paged at their account e-mail; the first method they add
takes its place. Tocsin says so when it happens, in the admin and on My paging."""

import pytest
from django.contrib.messages import get_messages

from incidents.paging.delivery import contact_method_create

pytestmark = pytest.mark.django_db

NOTICE = "now go to their contact methods instead of"


def _messages(answer) -> str:
    return " ".join(str(m) for m in get_messages(answer.wsgi_request))


def test_my_paging_says_a_first_webhook_takes_the_place_of_the_account_email(client, responder):
    responder.email = "rita@example.com"
    responder.save()
    client.force_login(responder)

    answer = client.post(
        "/admin/my-paging/methods/add/",
        {"kind": "webhook", "address": "https://hooks.example.com/rita", "label": ""},
    )

    assert answer.status_code == 302
    said = _messages(answer)
    assert NOTICE in said and "r••••@example.com" in said
    assert "Add an e-mail contact method to keep both" in said


def test_no_notice_once_an_email_method_exists(client, responder):
    responder.email = "rita@example.com"
    responder.save()
    contact_method_create(user=responder, kind="email", address="rita@example.com")
    client.force_login(responder)

    answer = client.post(
        "/admin/my-paging/methods/add/",
        {"kind": "webhook", "address": "https://hooks.example.com/rita", "label": ""},
    )

    assert answer.status_code == 302
    assert NOTICE not in _messages(answer)


def test_the_admin_says_so_when_a_manager_adds_someones_first_webhook(admin_client, responder):
    responder.email = "rita@example.com"
    responder.save()

    answer = admin_client.post(
        "/admin/incidents/contactmethod/add/",
        {
            "user": responder.pk,
            "kind": "webhook",
            "address": "https://hooks.example.com/rita",
            "label": "",
            "rules-TOTAL_FORMS": "0",
            "rules-INITIAL_FORMS": "0",
        },
    )

    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert NOTICE in _messages(answer)
