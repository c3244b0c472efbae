"""Rotating an iCal link: the schedule's (API and admin) and a person's own (admin, "My paging").
The new URL serves the feed, the old one answers 404."""

import pytest
from django.conf import settings
from django.test import Client

from incidents.models import Schedule
from tests.api.test_oncall_api import client_for
from tests.factories import UserFactory, make_schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def schedule(db):
    return make_schedule(participants=[UserFactory(username="alice")])


def feed_status(url: str) -> int:
    return Client().get(url.removeprefix(settings.TOCSIN_BASE_URL)).status_code


def test_api_rotate_answers_the_schedule_with_a_new_url_and_the_old_one_is_gone(manager, schedule):
    old_url = schedule.ical_url
    assert feed_status(old_url) == 200
    answer = client_for(manager).post(f"/api/v1/schedules/{schedule.pk}/rotate-ical/")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["id"] == schedule.pk
    assert body["ical_url"] != old_url
    assert body["ical_url"] == Schedule.objects.get(pk=schedule.pk).ical_url
    assert feed_status(body["ical_url"]) == 200
    assert feed_status(old_url) == 404


def test_api_rotate_needs_the_change_permission(responder, schedule):
    answer = client_for(responder).post(f"/api/v1/schedules/{schedule.pk}/rotate-ical/")
    assert answer.status_code == 403
    assert Schedule.objects.get(pk=schedule.pk).ical_token == schedule.ical_token


def test_api_rotate_of_an_unknown_schedule_is_404(manager):
    assert client_for(manager).post("/api/v1/schedules/999/rotate-ical/").status_code == 404


def test_admin_rotate_button_replaces_the_link(admin_client, schedule):
    page = admin_client.get(f"/admin/incidents/schedule/{schedule.pk}/change/")
    assert "Rotate iCal link</button>" in page.content.decode()
    answer = admin_client.post(f"/admin/incidents/schedule/{schedule.pk}/rotate-ical/")
    assert answer.status_code == 302
    new_url = Schedule.objects.get(pk=schedule.pk).ical_url
    assert new_url != schedule.ical_url
    assert feed_status(schedule.ical_url) == 404
    assert feed_status(new_url) == 200
    shown = admin_client.get(answer["Location"]).content.decode()
    assert f"New calendar link for {schedule}: {new_url}" in shown


def test_admin_rotate_refuses_get_and_people_without_change_permission(
    client, admin_client, responder, schedule
):
    url = f"/admin/incidents/schedule/{schedule.pk}/rotate-ical/"
    assert admin_client.get(url).status_code == 405
    responder.is_staff = True
    responder.save()
    client.force_login(responder)
    assert client.post(url).status_code == 403
    assert (
        "Rotate iCal link</button>"
        not in client.get(f"/admin/incidents/schedule/{schedule.pk}/change/").content.decode()
    )
    assert Schedule.objects.get(pk=schedule.pk).ical_token == schedule.ical_token


def test_only_its_owner_rotates_a_personal_link(db):
    from incidents.core.errors import DomainError
    from incidents.oncall.schedules import user_calendar, user_calendar_rotate

    owner, other = UserFactory(username="owner"), UserFactory(username="other")
    token = user_calendar(user=owner).token
    with pytest.raises(DomainError):
        user_calendar_rotate(user=owner, actor=other)
    assert user_calendar(user=owner).token == token
    assert user_calendar_rotate(user=owner, actor=owner).token != token
