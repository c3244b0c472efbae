"""A schedule's time zone: near misses such as "Berlin" are refused with the field named and
the IANA name suggested, in the admin (add and change) and the API, never a 500."""

import pytest

from incidents.core.timezones import suggest_time_zones
from incidents.models import Schedule
from tests.admin.test_oncall_admin import schedule_post
from tests.api.test_oncall_api import client_for, schedule_body
from tests.factories import UserFactory, make_schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    return [UserFactory(username=name) for name in ("alice", "bob")]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Berlin", ["Europe/Berlin"]),
        ("berlin", ["Europe/Berlin"]),
        ("europe/berlin", ["Europe/Berlin"]),
        ("new york", ["America/New_York"]),
        ("Europe/Berlinn", ["Europe/Berlin"]),
        ("Mars/Olympus", []),
        ("", []),
    ],
)
def test_suggestions_for_near_misses(name, expected):
    assert suggest_time_zones(name) == expected


def test_admin_change_page_refuses_berlin_and_keeps_the_old_zone(admin_client, people):
    schedule = make_schedule(time_zone="Europe/Paris", participants=people)
    rotation = schedule.rotations.get()
    data = schedule_post(
        **{
            "time_zone": "Berlin",
            "rotations-INITIAL_FORMS": "1",
            "rotations-0-id": str(rotation.pk),
            "rotations-0-schedule": str(schedule.pk),
            "rotations-0-participant_usernames": "alice, bob",
            "handoff_channels-TOTAL_FORMS": "0",
        }
    )
    answer = admin_client.post(f"/admin/incidents/schedule/{schedule.pk}/change/", data)
    assert answer.status_code == 200
    errors = answer.context["adminform"].form.errors
    assert "did you mean Europe/Berlin?" in errors["time_zone"][0]
    schedule.refresh_from_db()
    assert schedule.time_zone == "Europe/Paris"


def test_admin_add_page_refuses_berlin_naming_europe_berlin(admin_client, people):
    answer = admin_client.post("/admin/incidents/schedule/add/", schedule_post(time_zone="Berlin"))
    assert answer.status_code == 200
    assert "did you mean Europe/Berlin?" in answer.context["adminform"].form.errors["time_zone"][0]
    assert not Schedule.objects.exists()


def test_api_refuses_berlin_with_400_naming_the_field_and_the_fix(manager, people):
    answer = client_for(manager).post(
        "/api/v1/schedules/", schedule_body(time_zone="Berlin"), format="json"
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "time_zone": ["Unknown time zone 'Berlin': did you mean Europe/Berlin?"]
    }
    assert not Schedule.objects.exists()


def test_api_refuses_localtime_which_is_no_place(manager, people):
    answer = client_for(manager).post(
        "/api/v1/schedules/", schedule_body(time_zone="localtime"), format="json"
    )
    assert answer.status_code == 400
    assert "time_zone" in answer.json()
