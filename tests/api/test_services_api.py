"""The services API edits every field the admin does, through the domain, with an audit row."""

import pytest

from incidents.core.services import SERVICE_FIELDS
from incidents.models import ConfigChange, EscalationPolicy, Service
from tests.factories import ServiceFactory, UserFactory, api_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(manager):
    return api_client_for(manager)


def test_the_api_offers_every_field_the_admin_edits(admin_client):
    from incidents.admin.catalogue import ServiceAdmin

    admin_fields = {f for _, options in ServiceAdmin.fieldsets for f in options["fields"]}
    assert admin_fields == set(SERVICE_FIELDS)


def test_create_a_public_service_with_every_field(api, manager):
    policy = EscalationPolicy.objects.create(name="Payments on-call")
    body = {
        "name": "Payments",
        "slug": "payments",
        "description": "Card payments and refunds",
        "owner": manager.username,
        "dashboard_url": "https://grafana.example/d/payments",
        "logs_url": "https://logs.example/payments",
        "escalation_policy": policy.pk,
        "is_public": True,
        "public_name": "Online payments",
        "public_description": "Paying by card",
        "status_order": 5,
    }

    answer = api.post("/api/v1/services/", body)

    assert answer.status_code == 201, answer.content
    assert answer.json() == {
        **body,
        "id": answer.json()["id"],
        "created_at": answer.json()["created_at"],
    }
    service = Service.objects.get(pk=answer.json()["id"])
    assert (service.is_public, service.public_name, service.escalation_policy) == (
        True,
        "Online payments",
        policy,
    )
    entry = ConfigChange.objects.get(object_id=str(service.pk))
    assert (entry.actor, entry.action) == (manager, "added")
    assert entry.after["public_name"] == "Online payments"


def test_patch_edits_the_status_page_fields_and_records_who(api, manager):
    service = ServiceFactory(name="Checkout", slug="checkout")

    answer = api.patch(
        f"/api/v1/services/{service.pk}/",
        {"is_public": True, "public_name": "Shop checkout", "status_order": 1},
    )

    assert answer.status_code == 200, answer.content
    service.refresh_from_db()
    assert (service.is_public, service.public_name, service.status_order) == (
        True,
        "Shop checkout",
        1,
    )
    entry = ConfigChange.objects.get(object_id=str(service.pk))
    assert (entry.actor, entry.action) == (manager, "changed")
    assert entry.before == {"is_public": False, "public_name": "", "status_order": 100}
    assert entry.after == {"is_public": True, "public_name": "Shop checkout", "status_order": 1}


def test_put_replaces_and_a_repeat_patch_records_nothing(api):
    service = ServiceFactory(name="Checkout", slug="checkout", public_name="Old")

    put = api.put(
        f"/api/v1/services/{service.pk}/",
        {"name": "Checkout", "slug": "checkout", "description": "Cart", "public_name": ""},
    )
    again = api.patch(f"/api/v1/services/{service.pk}/", {"description": "Cart"})

    assert put.status_code == 200 and again.status_code == 200
    service.refresh_from_db()
    assert (service.description, service.public_name) == ("Cart", "")
    assert ConfigChange.objects.filter(object_id=str(service.pk)).count() == 1


def test_bad_fields_are_named_and_change_nothing(api):
    service = ServiceFactory(name="Checkout", slug="checkout")

    answer = api.patch(
        f"/api/v1/services/{service.pk}/", {"is_public": "yes", "public_name": "x" * 121}
    )
    negative = api.patch(f"/api/v1/services/{service.pk}/", {"status_order": -1})

    assert answer.status_code == 400
    assert set(answer.json()) == {"is_public", "public_name"}
    assert negative.status_code == 400
    assert set(negative.json()) == {"status_order"}
    service.refresh_from_db()
    assert (service.is_public, service.public_name) == (False, "")
    assert not ConfigChange.objects.exists()


def test_responders_cannot_edit_services(responder):
    service = ServiceFactory(name="Checkout", slug="checkout")

    answer = api_client_for(responder).patch(f"/api/v1/services/{service.pk}/", {"is_public": True})

    assert answer.status_code == 403
    service.refresh_from_db()
    assert service.is_public is False


def test_service_owner_must_be_an_active_user(api):
    UserFactory(username="gone", is_active=False)

    answer = api.post("/api/v1/services/", {"name": "A", "slug": "a", "owner": "gone"})

    assert answer.status_code == 400
    assert "owner" in answer.json()


def test_the_admin_saves_services_through_the_same_functions_and_logs_once(
    admin_client, admin_user
):
    from django.urls import reverse

    form = {
        "name": "Payments",
        "slug": "payments",
        "description": "",
        "dashboard_url": "",
        "logs_url": "",
        "public_name": "Online payments",
        "public_description": "",
        "status_order": "100",
    }
    added = admin_client.post(reverse("admin:incidents_service_add"), form)
    service = Service.objects.get(slug="payments")
    changed = admin_client.post(
        reverse("admin:incidents_service_change", args=[service.pk]),
        {**form, "is_public": "on", "status_order": "3"},
    )

    assert added.status_code == 302 and changed.status_code == 302
    service.refresh_from_db()
    assert (service.public_name, service.is_public, service.status_order) == (
        "Online payments",
        True,
        3,
    )
    records = list(
        ConfigChange.objects.filter(object_id=str(service.pk))
        .order_by("id")
        .values_list("action", "actor")
    )
    assert records == [("added", admin_user.pk), ("changed", admin_user.pk)]
