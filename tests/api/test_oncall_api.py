"""The on-call REST API as scripts use it: schedules with rotations, overrides, oncall, shifts."""

import pytest
from django.conf import settings
from knox.models import AuthToken
from rest_framework.test import APIClient

from incidents.models import HandoffChannel, Override, Rotation, Schedule
from tests.factories import UserFactory, make_schedule

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    _, key = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def api(manager):
    return client_for(manager)


@pytest.fixture
def people(db):
    return [UserFactory(username=name) for name in ("alice", "bob", "carol")]


def schedule_body(**changes):
    body = {
        "name": "Platform primary",
        "time_zone": "Europe/Berlin",
        "rotations": [
            {
                "name": "Weekly",
                "participants": ["alice", "bob"],
                "shift": "weekly",
                "handoff_time": "09:00",
                "handoff_weekday": 0,
                "start": "2026-01-05",
            }
        ],
        "handoff_notify": [
            {"kind": "email", "address": "platform@example.com"},
            {"kind": "webhook", "address": "http://127.0.0.1:9/hook"},
        ],
    }
    body.update(changes)
    return body


def test_create_schedule_answers_201_with_id_rotations_and_ical_url(api, people):
    answer = api.post("/api/v1/schedules/", schedule_body(), format="json")
    assert answer.status_code == 201, answer.content
    body = answer.json()
    schedule = Schedule.objects.get(pk=body["id"])
    assert body["ical_url"] == f"{settings.TOCSIN_BASE_URL}/oncall/ical/{schedule.ical_token}.ics"
    assert body["rotations"][0]["participants"] == ["alice", "bob"]
    assert body["rotations"][0]["shift"] == "weekly"
    assert body["rotations"][0]["handoff_time"] == "09:00"
    assert body["handoff_notify"] == schedule_body()["handoff_notify"]
    rotation = Rotation.objects.get(schedule=schedule)
    assert [p.user.username for p in rotation.participants.all()] == ["alice", "bob"]
    assert HandoffChannel.objects.filter(schedule=schedule).count() == 2


def test_rotations_listed_first_have_the_higher_priority(api, people):
    rotations = [
        {
            "name": "Business hours",
            "participants": ["carol"],
            "shift": "daily",
            "handoff_time": "09:00",
            "start": "2026-01-05",
            "restrict_weekdays": [0, 1, 2, 3, 4],
            "restrict_start": "09:00",
            "restrict_end": "17:00",
        },
        {
            "name": "Nights",
            "participants": ["alice", "bob"],
            "shift": "12h",
            "handoff_time": "09:00",
            "start": "2026-01-05",
        },
    ]
    answer = api.post("/api/v1/schedules/", schedule_body(rotations=rotations), format="json")
    assert answer.status_code == 201, answer.content
    pk = answer.json()["id"]
    # Monday 2026-01-12 10:00 Berlin (09:00 UTC): business hours, carol.
    assert api.get(f"/api/v1/schedules/{pk}/oncall/?at=2026-01-12T10:00:00%2B01:00").json() == {
        "users": ["carol"]
    }
    # 20:00 Berlin: the 12-hour layer; shifts at 09:00 and 21:00 local, alice then bob.
    assert api.get(f"/api/v1/schedules/{pk}/oncall/?at=2026-01-12T20:00:00%2B01:00").json() == {
        "users": ["alice"]
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"rotations": []}, "rotations"),
        ({"name": ""}, "name"),
        ({"handoff_notify": [{"kind": "pager", "address": "x"}]}, "handoff_notify"),
        ({"handoff_notify": [{"kind": "webhook", "address": "not a url"}]}, "handoff_notify"),
    ],
)
def test_bad_schedule_is_refused_with_the_field_at_fault(api, people, changes, field):
    answer = api.post("/api/v1/schedules/", schedule_body(**changes), format="json")
    assert answer.status_code == 400
    assert field in answer.json()
    assert not Schedule.objects.exists()


@pytest.mark.parametrize(
    ("rotation_changes", "field"),
    [
        ({"participants": ["alice", "nobody-here"]}, "participants"),
        ({"participants": []}, "participants"),
        ({"shift": "fortnightly"}, "shift"),
        ({"shift": "0h"}, "shift"),
        ({"handoff_time": "25:00"}, "handoff_time"),
        ({"handoff_weekday": 7}, "handoff_weekday"),
        ({"start": "2026-13-01"}, "start"),
        ({"restrict_start": "09:00"}, "restrict_end"),
    ],
)
def test_bad_rotation_is_refused_naming_the_rotation_field(api, people, rotation_changes, field):
    body = schedule_body()
    body["rotations"][0].update(rotation_changes)
    answer = api.post("/api/v1/schedules/", body, format="json")
    assert answer.status_code == 400
    errors = answer.json()["rotations"][0]
    assert field in errors, errors
    assert not Schedule.objects.exists()


def test_unknown_username_is_named_in_the_message(api, people):
    body = schedule_body()
    body["rotations"][0]["participants"] = ["alice", "zed"]
    answer = api.post("/api/v1/schedules/", body, format="json")
    assert "zed" in answer.json()["rotations"][0]["participants"][0]


def test_duplicate_schedule_name_is_refused(api, people):
    assert api.post("/api/v1/schedules/", schedule_body(), format="json").status_code == 201
    answer = api.post("/api/v1/schedules/", schedule_body(), format="json")
    assert answer.status_code == 400
    assert "name" in answer.json()
    assert Schedule.objects.count() == 1


def test_without_a_token_the_api_answers_401(db):
    assert APIClient().get("/api/v1/schedules/").status_code == 401


def test_viewer_reads_schedules_but_cannot_create_them(viewer, people):
    client = client_for(viewer)
    assert client.get("/api/v1/schedules/").status_code == 200
    assert client.post("/api/v1/schedules/", schedule_body(), format="json").status_code == 403
    assert not Schedule.objects.exists()


def test_retrieve_shows_who_is_on_call_now_and_next(api, people):
    alice, bob, _ = people
    schedule = make_schedule(participants=[alice, bob], shift="daily", start="2020-01-01")
    body = api.get(f"/api/v1/schedules/{schedule.pk}/").json()
    assert body["oncall_now"] and body["oncall_now"][0] in {"alice", "bob"}
    assert body["next"]["user"] in {"alice", "bob"}
    assert body["next"]["user"] != body["oncall_now"][0]


def test_unknown_schedule_is_404(api):
    assert api.get("/api/v1/schedules/999999/").status_code == 404
    assert api.get("/api/v1/schedules/999999/oncall/").status_code == 404


def test_schedule_list_runs_a_fixed_number_of_queries(api, people, django_assert_max_num_queries):
    alice, bob, carol = people

    def add(count):
        for i in range(Schedule.objects.count(), count):
            make_schedule(name=f"S{i}", participants=[alice, bob, carol], shift="daily")

    add(5)
    with django_assert_max_num_queries(16) as five:
        assert len(api.get("/api/v1/schedules/").json()["results"]) == 5
    add(50)
    with django_assert_max_num_queries(len(five.captured_queries)):
        assert len(api.get("/api/v1/schedules/").json()["results"]) == 50


# --- overrides --------------------------------------------------------------------------------


@pytest.fixture
def schedule(people):
    alice, bob, _ = people
    return make_schedule(participants=[alice, bob], shift="weekly", start="2026-01-05")


def test_override_answers_201_and_changes_who_is_on_call(api, schedule, manager):
    url = f"/api/v1/schedules/{schedule.pk}/overrides/"
    answer = api.post(
        url,
        {"user": "carol", "start": "2026-01-07T12:00:00+00:00", "end": "2026-01-08T12:00:00+00:00"},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    override = Override.objects.get(schedule=schedule)
    assert override.user.username == "carol"
    assert override.created_by == manager
    oncall = api.get(f"/api/v1/schedules/{schedule.pk}/oncall/?at=2026-01-07T13:00:00Z").json()
    assert oncall == {"users": ["carol"]}
    before = api.get(f"/api/v1/schedules/{schedule.pk}/oncall/?at=2026-01-07T11:59:59Z").json()
    assert before == {"users": ["alice"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user": "carol", "start": "2026-01-08T12:00:00Z", "end": "2026-01-07T12:00:00Z"}, "end"),
        ({"user": "carol", "start": "2026-01-08T12:00:00Z", "end": "2026-01-08T12:00:00Z"}, "end"),
        ({"user": "zed", "start": "2026-01-07T12:00:00Z", "end": "2026-01-08T12:00:00Z"}, "user"),
        ({"user": "carol", "start": "2026-01-07T12:00:00", "end": "2026-01-08T12:00:00Z"}, "start"),
        ({"user": "carol", "start": "yesterday", "end": "2026-01-08T12:00:00Z"}, "start"),
        ({"start": "2026-01-07T12:00:00Z", "end": "2026-01-08T12:00:00Z"}, "user"),
    ],
)
def test_bad_override_is_refused_with_the_field_at_fault(api, schedule, body, field):
    answer = api.post(f"/api/v1/schedules/{schedule.pk}/overrides/", body, format="json")
    assert answer.status_code == 400
    assert field in answer.json()
    assert not Override.objects.exists()


def test_overlapping_override_for_the_same_person_is_refused(api, schedule):
    url = f"/api/v1/schedules/{schedule.pk}/overrides/"
    first = {"user": "carol", "start": "2026-01-07T12:00:00Z", "end": "2026-01-08T12:00:00Z"}
    assert api.post(url, first, format="json").status_code == 201
    second = {"user": "carol", "start": "2026-01-08T11:00:00Z", "end": "2026-01-09T12:00:00Z"}
    answer = api.post(url, second, format="json")
    assert answer.status_code == 400
    assert "overlap" in answer.json()["start"][0]
    adjacent = {"user": "carol", "start": "2026-01-08T12:00:00Z", "end": "2026-01-09T12:00:00Z"}
    assert api.post(url, adjacent, format="json").status_code == 201
    assert Override.objects.count() == 2


# --- oncall and shifts ------------------------------------------------------------------------


def test_oncall_accepts_an_unencoded_plus_offset(api, schedule):
    answer = api.get(f"/api/v1/schedules/{schedule.pk}/oncall/?at=2026-01-12T10:00:00+01:00")
    assert answer.status_code == 200
    assert answer.json() == {"users": ["bob"]}


@pytest.mark.parametrize("at", ["tomorrow", "2026-01-12T10:00:00", "2026-02-30T10:00:00Z"])
def test_oncall_with_a_bad_instant_is_400_naming_at(api, schedule, at):
    answer = api.get(f"/api/v1/schedules/{schedule.pk}/oncall/", {"at": at})
    assert answer.status_code == 400
    assert "at" in answer.json()


def test_shifts_are_the_final_schedule_clipped_to_the_window(api, schedule):
    Override.objects.create(
        schedule=schedule,
        user=UserFactory(username="carol"),
        starts_at="2026-01-14T00:00:00Z",
        ends_at="2026-01-15T00:00:00Z",
    )
    answer = api.get(
        f"/api/v1/schedules/{schedule.pk}/shifts/",
        {"start": "2026-01-10T00:00:00Z", "end": "2026-01-20T00:00:00Z"},
    )
    assert answer.status_code == 200
    assert answer.json() == [
        {"user": "alice", "start": "2026-01-10T00:00:00Z", "end": "2026-01-12T09:00:00Z"},
        {"user": "bob", "start": "2026-01-12T09:00:00Z", "end": "2026-01-14T00:00:00Z"},
        {"user": "carol", "start": "2026-01-14T00:00:00Z", "end": "2026-01-15T00:00:00Z"},
        {"user": "bob", "start": "2026-01-15T00:00:00Z", "end": "2026-01-19T09:00:00Z"},
        {"user": "alice", "start": "2026-01-19T09:00:00Z", "end": "2026-01-20T00:00:00Z"},
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-01-10T00:00:00Z"}, "end"),
        ({"end": "2026-01-10T00:00:00Z"}, "start"),
        ({"start": "2026-01-10T00:00:00Z", "end": "2026-01-09T00:00:00Z"}, "end"),
        ({"start": "2026-01-01T00:00:00Z", "end": "2026-12-31T00:00:00Z"}, "end"),
    ],
)
def test_bad_shifts_window_is_400(api, schedule, params, field):
    answer = api.get(f"/api/v1/schedules/{schedule.pk}/shifts/", params)
    assert answer.status_code == 400
    assert field in answer.json()


def test_schema_documents_the_schedule_endpoints(api):
    answer = api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert answer.status_code == 200
    text = answer.content.decode()
    for path in (
        "/api/v1/schedules/",
        "/api/v1/schedules/{id}/shifts/",
        "/api/v1/schedules/{id}/oncall/",
    ):
        assert path in text


def test_demo_schedules_follow_the_runbook_rotation_and_are_idempotent(db):
    from incidents.oncall.schedules import seed_demo_schedules

    people = {name: UserFactory(username=name) for name in ("alice", "bob", "carol", "dave")}
    assert len(seed_demo_schedules(people=people)) == 2
    assert seed_demo_schedules(people=people) == []
    primary = Schedule.objects.get(name="Platform primary")
    assert primary.backup_schedule.name == "Platform secondary"
    client = client_for(UserFactory(username="boss", is_superuser=True))
    # Saturday 2026-01-10 12:00 Berlin: the weekly layer (alice's first week).
    weekend = client.get(f"/api/v1/schedules/{primary.pk}/oncall/?at=2026-01-10T12:00:00%2B01:00")
    assert weekend.json() == {"users": ["alice"]}
    # Monday 2026-01-12 10:00 Berlin: business hours, bob then alice by day.
    weekday = client.get(f"/api/v1/schedules/{primary.pk}/oncall/?at=2026-01-12T10:00:00%2B01:00")
    assert weekday.json() == {"users": ["alice"]}
