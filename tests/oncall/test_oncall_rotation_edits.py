"""Changing a rotation's people from a moment on: the past and the shift in progress stay in
`shifts`, `oncall?at=` and the iCal feed; the admin previews the moves; moved people are told."""

from datetime import UTC, datetime, timedelta

import icalendar
import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from incidents.models import Notification
from incidents.oncall import compute as oncall
from incidents.oncall.rotations import rotation_set_participants
from incidents.paging import handoffs
from tests.admin.test_oncall_admin import schedule_post
from tests.api.test_oncall_api import client_for
from tests.factories import UserFactory, make_schedule

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


@pytest.fixture
def people(db):
    return [
        UserFactory(
            username=name, first_name=name.title(), last_name="", email=f"{name}@example.com"
        )
        for name in ("alice", "bob", "carol")
    ]


@pytest.fixture
def schedule(people):
    alice, bob, _ = people
    # Daily handoffs at 09:00 UTC since 2026-01-01: alice and bob alternate.
    return make_schedule(participants=[alice, bob], shift="daily", start="2026-01-01")


def api_shifts(client, schedule, start, end):
    answer = client.get(
        f"/api/v1/schedules/{schedule.pk}/shifts/",
        {"start": start.isoformat(), "end": end.isoformat()},
    )
    assert answer.status_code == 200, answer.content
    return [(s["user"], s["start"], s["end"]) for s in answer.json()]


def feed_events(schedule):
    answer = Client().get(schedule.ical_url.removeprefix(settings.TOCSIN_BASE_URL))
    cal = icalendar.Calendar.from_ical(answer.content)
    return [(str(e["SUMMARY"]), e["DTSTART"].dt, e["DTEND"].dt) for e in cal.walk("VEVENT")]


def test_edit_keeps_past_shifts_and_the_shift_in_progress(manager, people, schedule):
    alice, bob, carol = people
    api = client_for(manager)
    now = timezone.now()
    window = (now - 20 * DAY, now + 20 * DAY)
    before = api_shifts(api, schedule, *window)
    feed_before = feed_events(schedule)
    in_progress = oncall.oncall_users(schedule, now)
    url = f"/api/v1/schedules/{schedule.pk}/oncall/"
    instants = [(now - days * DAY).isoformat() for days in (10, 3, 1)] + [now.isoformat()]
    oncall_before = [api.get(url, {"at": at}).json()["users"] for at in instants]

    plan = rotation_set_participants(
        rotation=schedule.rotations.get(), users=[alice, bob, carol], actor=manager
    )
    after = api_shifts(api, schedule, *window)

    started = [s for s in before if datetime.fromisoformat(s[1]) <= plan.effective_from]
    assert after[: len(started)] == started  # past shifts and the one in progress: unchanged
    assert "carol" not in {user for user, _, _ in started}
    assert "carol" in {user for user, _, _ in after[len(started) :]}
    assert oncall.oncall_users(schedule, now) == in_progress
    # Whoever was on call then, or is now, still is.
    assert [api.get(url, {"at": at}).json()["users"] for at in instants] == oncall_before
    feed_after = feed_events(schedule)
    cutoff = plan.effective_from
    assert [e for e in feed_after if e[1] <= cutoff] == [e for e in feed_before if e[1] <= cutoff]
    assert any("Carol" in e[0] for e in feed_after if e[1] > cutoff)
    assert not any("Carol" in e[0] for e in feed_after if e[1] <= cutoff)


def test_moved_people_are_told_by_email_through_the_handoff_deliveries(
    manager, people, schedule, mailoutbox
):
    alice, bob, carol = people
    plan = rotation_set_participants(
        rotation=schedule.rotations.get(), users=[alice, bob, carol], actor=manager
    )
    assert plan.moves
    told = set(Notification.objects.filter(reason="handoff").values_list("address", flat=True))
    moved = {m.before for m in plan.moves} | {m.after for m in plan.moves}
    assert told == {u.email for u in people if u.pk in moved}
    assert "carol@example.com" in told
    handoffs.handoff_deliver_pending()
    mail = {m.to[0]: m for m in mailoutbox}
    assert set(mail) == told
    assert mail["carol@example.com"].subject == "Your on-call shifts on Platform primary changed"
    body = mail["carol@example.com"].body
    assert "now takes turns as Alice, Bob, Carol" in body
    assert "you are on call (instead of" in body
    assert f"{settings.TOCSIN_BASE_URL}/admin/my-paging/" in body
    assert "/oncall/ical/" not in body  # the stored text never holds a secret link
    assert Notification.objects.exclude(status="sent").count() == 0


def test_same_people_is_a_no_op_that_tells_nobody(people, schedule):
    alice, bob, _ = people
    plan = rotation_set_participants(rotation=schedule.rotations.get(), users=[alice, bob])
    assert not plan.changed
    assert not Notification.objects.exists()
    assert schedule.rotations.get().participants.filter(effective_from__isnull=False).count() == 0


def test_effective_moment_in_the_future_keeps_shifts_until_then(manager, people, schedule):
    carol = people[2]
    api = client_for(manager)
    now = timezone.now()
    later = (now + 5 * DAY).replace(hour=12, minute=0, second=0, microsecond=0)
    before = api_shifts(api, schedule, now, now + 20 * DAY)
    rotation_set_participants(
        rotation=schedule.rotations.get(), users=[carol], effective_from=later
    )
    after = api_shifts(api, schedule, now, now + 20 * DAY)
    kept = [s for s in before if datetime.fromisoformat(s[1]) < later]
    assert after[: len(kept)] == kept
    assert {user for user, _, _ in after[len(kept) :]} == {"carol"}


def test_an_effective_moment_in_the_past_is_refused(people, schedule):
    from incidents.core.errors import DomainError

    carol = people[2]
    with pytest.raises(DomainError) as refused:
        rotation_set_participants(
            rotation=schedule.rotations.get(),
            users=[carol],
            effective_from=datetime(2026, 1, 2, tzinfo=UTC),
        )
    assert refused.value.field == "effective_from"


# --- admin --------------------------------------------------------------------------------------


def change_post(schedule, usernames: str, **changes):
    rotation = schedule.rotations.get()
    return schedule_post(
        **{
            "name": schedule.name,
            "time_zone": schedule.time_zone,
            "rotations-INITIAL_FORMS": "1",
            "rotations-0-id": str(rotation.pk),
            "rotations-0-schedule": str(schedule.pk),
            "rotations-0-participant_usernames": usernames,
            "rotations-0-shift_kind": "daily",
            "rotations-0-handoff_weekday": "",
            "rotations-0-start_date": "2026-01-01",
            "rotations-0-name": "Layer 1",
            "rotations-0-priority": str(rotation.priority),
            "handoff_channels-TOTAL_FORMS": "0",
            **changes,
        }
    )


def test_admin_change_of_people_shows_the_moves_then_saves_on_confirmation(
    admin_client, people, schedule
):
    url = f"/admin/incidents/schedule/{schedule.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert "People change from" in page
    preview = admin_client.post(url, change_post(schedule, "alice, bob, carol"))
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "Check the shifts that move" in html
    assert "Carol" in html and "→" in html
    # Nothing is saved by the preview.
    rotation = schedule.rotations.get()
    assert [p.user.username for p in rotation.latest_participants()] == ["alice", "bob"]
    assert not Notification.objects.exists()
    resend = dict(preview.context["resend"])
    assert resend["rotations-0-participant_usernames"] == "alice, bob, carol"

    data = {**change_post(schedule, "alice, bob, carol"), "_confirm_participants": "1"}
    saved = admin_client.post(url, data)
    assert saved.status_code == 302
    assert [p.user.username for p in rotation.latest_participants()] == ["alice", "bob", "carol"]
    assert Notification.objects.filter(reason="handoff", incident__isnull=True).exists()


def test_admin_refuses_an_effective_moment_in_the_past_on_the_field(admin_client, people, schedule):
    url = f"/admin/incidents/schedule/{schedule.pk}/change/"
    data = change_post(schedule, "carol", **{"rotations-0-effective_from": "2026-01-02 09:00"})
    answer = admin_client.post(url, data)
    assert answer.status_code == 200
    assert "past shifts never change" in answer.content.decode()
    assert [p.user.username for p in schedule.rotations.get().latest_participants()] == [
        "alice",
        "bob",
    ]


def test_admin_effective_moment_is_read_in_the_schedule_zone(admin_client, people):
    alice, bob, _ = people
    schedule = make_schedule(
        time_zone="Asia/Tokyo", participants=[alice, bob], shift="daily", start="2026-01-01"
    )
    local = (timezone.now() + 3 * DAY).astimezone(oncall.ZoneInfo("Asia/Tokyo"))
    typed = local.strftime("%Y-%m-%d 10:00")
    data = {
        **change_post(schedule, "carol", **{"rotations-0-effective_from": typed}),
        "time_zone": "Asia/Tokyo",
        "_confirm_participants": "1",
    }
    answer = admin_client.post(f"/admin/incidents/schedule/{schedule.pk}/change/", data)
    assert answer.status_code == 302, answer.context["errors"] if answer.context else answer
    row = schedule.rotations.get().participants.get(effective_from__isnull=False)
    assert row.effective_from == datetime.fromisoformat(f"{typed}+09:00")


# --- API ----------------------------------------------------------------------------------------


def test_api_patch_rotation_people_from_a_moment_answers_the_moves(manager, people, schedule):
    rotation = schedule.rotations.get()
    now = timezone.now()
    later = (now + 3 * DAY).replace(hour=12, minute=0, second=0, microsecond=0)
    before = api_shifts(client_for(manager), schedule, now, later)
    answer = client_for(manager).patch(
        f"/api/v1/schedules/{schedule.pk}/rotations/{rotation.pk}/",
        {"participants": ["carol", "alice"], "effective_from": later.isoformat()},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["participants"] == ["carol", "alice"]
    assert datetime.fromisoformat(body["participants_from"]) == later
    assert datetime.fromisoformat(body["effective_from"]) == later
    assert body["moved"] and all(m["after"] in ("carol", "alice") for m in body["moved"])
    assert all(datetime.fromisoformat(m["start"]) >= later for m in body["moved"])
    assert api_shifts(client_for(manager), schedule, now, later) == before
    detail = client_for(manager).get(f"/api/v1/schedules/{schedule.pk}/").json()
    assert detail["rotations"][0]["participants"] == ["carol", "alice"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"participants": []}, "participants"),
        ({"participants": ["carol", "zed"]}, "participants"),
        (
            {"participants": ["carol"], "effective_from": "2026-01-02T09:00:00+00:00"},
            "effective_from",
        ),
        ({"participants": ["carol"], "effective_from": "2030-01-02T09:00:00"}, "effective_from"),
        ({"participants": ["carol"], "shift": "daily"}, "shift"),
    ],
)
def test_api_patch_refusals_name_the_field_and_change_nothing(
    manager, people, schedule, body, field
):
    rotation = schedule.rotations.get()
    answer = client_for(manager).patch(
        f"/api/v1/schedules/{schedule.pk}/rotations/{rotation.pk}/", body, format="json"
    )
    assert answer.status_code == 400, answer.content
    assert field in answer.json()
    assert [p.user.username for p in rotation.participants.all()] == ["alice", "bob"]
    assert not Notification.objects.exists()


def test_api_patch_needs_the_change_permission_and_a_rotation_of_that_schedule(
    responder, manager, people, schedule
):
    rotation = schedule.rotations.get()
    url = f"/api/v1/schedules/{schedule.pk}/rotations/{rotation.pk}/"
    assert (
        client_for(responder).patch(url, {"participants": ["carol"]}, format="json").status_code
        == 403
    )
    other = make_schedule(name="Other", participants=people[:1])
    wrong = f"/api/v1/schedules/{other.pk}/rotations/{rotation.pk}/"
    assert (
        client_for(manager).patch(wrong, {"participants": ["carol"]}, format="json").status_code
        == 404
    )


def test_rotation_page_lists_each_list_read_only(admin_client, people, schedule):
    rotation = schedule.rotations.get()
    rotation_set_participants(rotation=rotation, users=people)
    page = admin_client.get(f"/admin/incidents/rotation/{rotation.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("carol") >= 1 and "participants-0-user" not in html
    assert 'name="participants-TOTAL_FORMS" value="5"' in html  # 2 from the start + 3 later
