"""A NUL in a changelist's filter or search answers 400, on every changelist of the admin site.

PostgreSQL cannot hold NUL in text, so such a lookup used to fail inside the database (500)."""

import pytest
from django.contrib import admin
from django.contrib.admin import SimpleListFilter
from django.urls import reverse

from incidents.models import Incident

pytestmark = pytest.mark.django_db

CHANGELISTS = sorted(
    (model._meta.app_label, model._meta.model_name, model_admin)
    for model, model_admin in admin.site._registry.items()
)


def _filter_parameter(model_admin) -> str:
    """The query parameter the admin's first list filter reads."""
    if not model_admin.list_filter:
        return "status__exact"
    first = model_admin.list_filter[0]
    if isinstance(first, tuple):
        first = first[0]
    if isinstance(first, type) and issubclass(first, SimpleListFilter):
        return first.parameter_name
    field = model_admin.model._meta.get_field(first)
    return f"{first}__id__exact" if field.is_relation else f"{first}__exact"


@pytest.mark.parametrize(
    ("app_label", "model_name", "model_admin"),
    CHANGELISTS,
    ids=[f"{a}.{m}" for a, m, _ in CHANGELISTS],
)
def test_a_nul_in_a_filter_or_the_search_is_a_400(admin_client, app_label, model_name, model_admin):
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    for params in ({_filter_parameter(model_admin): "open\x00"}, {"q": "db\x00pool"}):
        answer = admin_client.get(url, params)
        assert answer.status_code == 400, (url, params)
        assert "NUL" in answer.content.decode()


def test_a_nul_changes_nothing_and_a_clean_query_still_works(admin_client, incident):
    url = reverse("admin:incidents_incident_changelist")
    assert admin_client.get(url, {"status__exact": "\x00"}).status_code == 400
    assert admin_client.get(url, {"status__exact": "triggered"}).status_code == 200
    assert Incident.objects.count() == 1


def test_a_nul_elsewhere_in_the_admin_is_a_400_too(admin_client, incident):
    change = reverse("admin:incidents_incident_change", args=[incident.pk])
    assert admin_client.get(change, {"_changelist_filters": "status=\x00"}).status_code == 400
