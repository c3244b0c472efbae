"""The on-call admin: schedule forms and their refusals, the 14-day view, overrides, changelists."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from incidents.models import Override, Rotation, Schedule
from tests.factories import UserFactory, make_schedule

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    # Production settings use the manifest storage, which needs collectstatic first.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def people(db):
    return [
        UserFactory(username="alice", first_name="Alice", last_name="Archer"),
        UserFactory(username="bob", first_name="Bob", last_name="Baker"),
    ]


def schedule_post(**changes):
    data = {
        "name": "Platform primary",
        "time_zone": "Europe/Berlin",
        "description": "",
        "backup_schedule": "",
        "rotations-TOTAL_FORMS": "1",
        "rotations-INITIAL_FORMS": "0",
        "rotations-MIN_NUM_FORMS": "1",
        "rotations-MAX_NUM_FORMS": "1000",
        "rotations-0-name": "Weekly",
        "rotations-0-priority": "0",
        "rotations-0-participant_usernames": "bob, alice",
        "rotations-0-shift_kind": "weekly",
        "rotations-0-shift_hours": "",
        "rotations-0-handoff_time": "09:00",
        "rotations-0-handoff_weekday": "0",
        "rotations-0-start_date": "2026-01-05",
        "rotations-0-ends_at_0": "",
        "rotations-0-ends_at_1": "",
        "rotations-0-restrict_start": "",
        "rotations-0-restrict_end": "",
        "handoff_channels-TOTAL_FORMS": "1",
        "handoff_channels-INITIAL_FORMS": "0",
        "handoff_channels-MIN_NUM_FORMS": "0",
        "handoff_channels-MAX_NUM_FORMS": "1000",
        "handoff_channels-0-kind": "webhook",
        "handoff_channels-0-address": "https://hooks.example.com/platform",
    }
    data.update(changes)
    return data


def test_add_schedule_with_a_layer_and_ordered_participants(admin_client, people):
    answer = admin_client.post("/admin/incidents/schedule/add/", schedule_post())
    assert answer.status_code == 302, answer.context["errors"] if answer.context else answer
    schedule = Schedule.objects.get(name="Platform primary")
    rotation = Rotation.objects.get(schedule=schedule)
    assert [p.user.username for p in rotation.participants.all()] == ["bob", "alice"]
    assert schedule.handoff_channels.get().address == "https://hooks.example.com/platform"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rotations-0-participant_usernames": " , "}, "at least one participant"),
        ({"rotations-0-participant_usernames": "alice, zed"}, "Unknown username(s): zed."),
        ({"time_zone": "Europe/Atlantis"}, "Unknown time zone"),
        ({"rotations-0-handoff_time": "25:61"}, "Enter the handoff time as HH:MM"),
        ({"rotations-0-shift_kind": "hours"}, "Give the shift length in hours"),
        ({"rotations-0-restrict_start": "09:00"}, "Give both ends of the restriction hours"),
        ({"rotations-TOTAL_FORMS": "0"}, "Please submit at least 1 form."),
        ({"handoff_channels-0-address": "not a url"}, "Invalid webhook address"),
    ],
)
def test_add_schedule_refusals_show_clear_messages(admin_client, people, changes, message):
    answer = admin_client.post("/admin/incidents/schedule/add/", schedule_post(**changes))
    assert answer.status_code == 200
    assert message in answer.content.decode()
    assert not Schedule.objects.exists()


def test_change_page_edits_participant_order_after_confirmation(admin_client, people):
    alice, bob = people
    schedule = make_schedule(participants=[alice, bob])
    rotation = schedule.rotations.get()
    data = schedule_post(
        **{
            "rotations-INITIAL_FORMS": "1",
            "rotations-0-id": str(rotation.pk),
            "rotations-0-schedule": str(schedule.pk),
            "rotations-0-participant_usernames": "bob, alice",
            "time_zone": "UTC",
            "handoff_channels-TOTAL_FORMS": "0",
        }
    )
    url = f"/admin/incidents/schedule/{schedule.pk}/change/"
    assert "Check the shifts that move" in admin_client.post(url, data).content.decode()
    answer = admin_client.post(url, {**data, "_confirm_participants": "1"})
    assert answer.status_code == 302
    assert [p.user.username for p in rotation.latest_participants()] == ["bob", "alice"]


def test_change_page_shows_14_days_with_gaps_in_red_and_the_ical_url(admin_client, people):
    alice, _ = people
    schedule = make_schedule(
        participants=[alice],
        shift="daily",
        start="2020-01-01",
        restrict_start=time(9),
        restrict_end=time(17),
    )
    answer = admin_client.get(f"/admin/incidents/schedule/{schedule.pk}/change/")
    html = answer.content.decode()
    assert answer.status_code == 200
    assert "Next 14 days" in html
    assert html.count('class="oncall-gap"') >= 13  # every night is a gap
    assert "Nobody on call" in html
    assert "Alice Archer" in html
    assert schedule.ical_url in html
    assert "Take this shift" in html
    assert f"/admin/incidents/schedule/{schedule.pk}/override/" in html
    # The person's own feed, for their calendar app.
    from incidents.models import UserCalendar

    assert UserCalendar.objects.get(user__username="admin").ical_url in html


def test_changelist_shows_who_is_on_call_with_a_fixed_number_of_queries(
    admin_client, people, django_assert_max_num_queries
):
    alice, bob = people

    def add(count):
        for i in range(Schedule.objects.count(), count):
            make_schedule(name=f"Team {i:02}", participants=[alice, bob], shift="daily")

    add(5)
    with django_assert_max_num_queries(20) as five:
        answer = admin_client.get("/admin/incidents/schedule/")
    assert answer.status_code == 200
    assert answer.content.decode().count("Archer") + answer.content.decode().count("Baker") >= 5
    add(50)
    with django_assert_max_num_queries(len(five.captured_queries)):
        answer = admin_client.get("/admin/incidents/schedule/")
    assert answer.content.decode().count("Team ") >= 50


def test_take_this_shift_creates_an_override_in_the_schedule_time_zone(
    admin_client, people, admin_user
):
    alice, bob = people
    schedule = make_schedule(participants=[alice], time_zone="America/New_York")
    url = f"/admin/incidents/schedule/{schedule.pk}/override/"
    assert admin_client.get(url + "?start=2026-03-07T09:00&end=2026-03-09T09:00").status_code == 200
    answer = admin_client.post(
        url,
        {"user": bob.pk, "start": "2026-03-07T09:00", "end": "2026-03-09T09:00", "reason": "swap"},
    )
    assert answer.status_code == 302
    override = Override.objects.get()
    assert override.user == bob
    assert override.created_by == admin_user
    # Wall-clock times in New York, across the spring change: EST then EDT.
    assert override.starts_at == datetime(2026, 3, 7, 14, tzinfo=UTC)
    assert override.ends_at == datetime(2026, 3, 9, 13, tzinfo=UTC)


def test_take_this_shift_refuses_an_end_before_the_start(admin_client, people):
    alice, bob = people
    schedule = make_schedule(participants=[alice])
    answer = admin_client.post(
        f"/admin/incidents/schedule/{schedule.pk}/override/",
        {"user": bob.pk, "start": "2026-03-07T09:00", "end": "2026-03-07T08:00"},
    )
    assert answer.status_code == 200
    assert "The override must end after it starts." in answer.content.decode()
    assert not Override.objects.exists()


def test_override_admin_refuses_overlap_for_the_same_person(admin_client, people):
    alice, bob = people
    schedule = make_schedule(participants=[alice])
    start = timezone.now().replace(microsecond=0)
    Override.objects.create(
        schedule=schedule, user=bob, starts_at=start, ends_at=start + timedelta(hours=4)
    )
    later = start + timedelta(hours=2)
    answer = admin_client.post(
        "/admin/incidents/override/add/",
        {
            "schedule": schedule.pk,
            "user": bob.pk,
            "starts_at_0": later.strftime("%Y-%m-%d"),
            "starts_at_1": later.strftime("%H:%M:%S"),
            "ends_at_0": (later + timedelta(hours=4)).strftime("%Y-%m-%d"),
            "ends_at_1": (later + timedelta(hours=4)).strftime("%H:%M:%S"),
            "reason": "",
        },
    )
    assert answer.status_code == 200
    assert "would overlap it" in answer.content.decode()
    assert Override.objects.count() == 1


@pytest.mark.parametrize(
    "url",
    [
        "/admin/incidents/override/",
        "/admin/incidents/override/add/",
        "/admin/incidents/handoff/",
        "/admin/incidents/rotation/",
        "/admin/incidents/schedule/add/",
    ],
)
def test_oncall_admin_pages_render(admin_client, people, url):
    make_schedule(participants=people)
    assert admin_client.get(url).status_code == 200


def test_viewer_cannot_create_overrides(client, viewer, people):
    schedule = make_schedule(participants=people)
    client.force_login(viewer)
    answer = client.get(f"/admin/incidents/schedule/{schedule.pk}/override/")
    assert answer.status_code == 403


def test_override_admin_adds_an_override_recording_who_made_it(admin_client, admin_user, people):
    alice, bob = people
    schedule = make_schedule(participants=[alice])
    answer = admin_client.post(
        "/admin/incidents/override/add/",
        {
            "schedule": schedule.pk,
            "user": bob.pk,
            "starts_at_0": "2026-02-02",
            "starts_at_1": "09:00:00",
            "ends_at_0": "2026-02-03",
            "ends_at_1": "09:00:00",
            "reason": "Dentist",
        },
    )
    assert answer.status_code == 302
    override = Override.objects.get()
    assert (override.user, override.created_by, override.reason) == (bob, admin_user, "Dentist")
    assert override.starts_at == datetime(2026, 2, 2, 9, tzinfo=UTC)
