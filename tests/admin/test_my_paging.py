""" "My paging": every staff member, whatever their group, manages their own contact methods and
notification rules, sees their next shifts and their own calendar link, and rotates it."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client

from incidents.models import ContactMethod, NotificationRule, UserCalendar
from incidents.oncall.schedules import user_calendar
from incidents.paging.delivery import contact_method_create
from tests.factories import UserFactory, make_schedule

pytestmark = pytest.mark.django_db

PAGE = "/admin/my-paging/"


@pytest.fixture
def rita(client, responder):
    client.force_login(responder)
    return responder


@pytest.fixture
def other(db):
    return UserFactory(username="otto", email="otto@example.com")


def test_every_staff_member_has_the_page_linked_in_the_header(client, viewer):
    client.force_login(viewer)
    home = client.get("/admin/")
    assert home.status_code == 200
    assert f'href="{PAGE}"' in home.content.decode()
    assert client.get(PAGE).status_code == 200


def test_the_page_needs_a_staff_login(client):
    answer = client.get(PAGE)
    assert answer.status_code == 302
    assert "/admin/login/" in answer["Location"]


def test_add_a_contact_method_and_see_it_listed(client, rita):
    answer = client.post(
        f"{PAGE}methods/add/",
        {
            "kind": "email",
            "address": "rita@example.com",
            "label": "work",
            "notify_after_minutes": "2",
        },
    )
    assert answer.status_code == 302
    method = ContactMethod.objects.get(user=rita)
    assert (method.kind, method.address, method.label) == ("email", "rita@example.com", "work")
    assert NotificationRule.objects.get(user=rita).delay == timedelta(minutes=2)
    page = client.get(PAGE).content.decode()
    # Listed masked, like every saved address (issue 13: secrets of URLs are never shown again).
    assert "r••••@example.com" in page
    assert "0:02:00" in page


def test_a_bad_address_is_shown_on_the_form_and_nothing_is_added(client, rita):
    answer = client.post(f"{PAGE}methods/add/", {"kind": "webhook", "address": "not a url"})
    assert answer.status_code == 200
    assert "Invalid webhook address" in answer.content.decode()
    assert not ContactMethod.objects.exists()


def test_edit_and_delete_ones_own_method(client, rita):
    method = contact_method_create(user=rita, kind="email", address="rita@example.com")
    edit = f"{PAGE}methods/{method.pk}/"
    assert client.get(edit).status_code == 200
    answer = client.post(edit, {"kind": "webhook", "address": "https://hooks.example.com/rita"})
    assert answer.status_code == 302
    method.refresh_from_db()
    assert (method.kind, method.address) == ("webhook", "https://hooks.example.com/rita")
    refused = client.post(edit, {"kind": "email", "address": "nope"})
    assert refused.status_code == 200 and "Invalid email address" in refused.content.decode()
    assert client.post(f"{edit}delete/").status_code == 302
    assert not ContactMethod.objects.filter(pk=method.pk).exists()


def test_someone_elses_methods_and_rules_are_404_and_unchanged(client, rita, other):
    method = contact_method_create(
        user=other, kind="email", address="otto@example.com", notify_after=timedelta(0)
    )
    rule = NotificationRule.objects.get(user=other)
    assert client.get(f"{PAGE}methods/{method.pk}/").status_code == 404
    assert (
        client.post(
            f"{PAGE}methods/{method.pk}/", {"kind": "email", "address": "evil@example.com"}
        ).status_code
        == 404
    )
    assert client.post(f"{PAGE}methods/{method.pk}/delete/").status_code == 404
    assert client.post(f"{PAGE}rules/{rule.pk}/delete/").status_code == 404
    # A rule pointing at someone else's method is refused on the form.
    answer = client.post(f"{PAGE}rules/add/", {"contact_method": method.pk, "delay_minutes": "0"})
    assert answer.status_code == 200
    assert "Select a valid choice" in answer.content.decode()
    method.refresh_from_db()
    assert method.address == "otto@example.com"
    assert NotificationRule.objects.filter(user=rita).count() == 0
    assert "otto@example.com" not in client.get(PAGE).content.decode()


def test_rules_add_edit_delete(client, rita):
    email = contact_method_create(user=rita, kind="email", address="rita@example.com")
    hook = contact_method_create(user=rita, kind="webhook", address="https://h.example.com/r")
    assert (
        client.post(
            f"{PAGE}rules/add/", {"contact_method": email.pk, "delay_minutes": "0"}
        ).status_code
        == 302
    )
    assert (
        client.post(
            f"{PAGE}rules/add/", {"contact_method": hook.pk, "delay_minutes": "5"}
        ).status_code
        == 302
    )
    rules = list(NotificationRule.objects.filter(user=rita).order_by("order"))
    assert [(r.contact_method_id, r.delay) for r in rules] == [
        (email.pk, timedelta(0)),
        (hook.pk, timedelta(minutes=5)),
    ]
    refused = client.post(
        f"{PAGE}rules/{rules[1].pk}/", {"contact_method": hook.pk, "delay_minutes": "-1"}
    )
    assert refused.status_code == 200
    assert "greater than or equal to 0" in refused.content.decode()
    assert (
        client.post(
            f"{PAGE}rules/{rules[1].pk}/", {"contact_method": hook.pk, "delay_minutes": "10"}
        ).status_code
        == 302
    )
    rules[1].refresh_from_db()
    assert rules[1].delay == timedelta(minutes=10)
    assert client.post(f"{PAGE}rules/{rules[0].pk}/delete/").status_code == 302
    assert list(NotificationRule.objects.filter(user=rita)) == [rules[1]]


def test_upcoming_shifts_across_schedules_with_their_zone(client, rita, other):
    make_schedule(
        name="Payments",
        time_zone="Asia/Tokyo",
        participants=[rita],
        shift="daily",
        start="2026-01-01",
    )
    make_schedule(
        name="Platform",
        time_zone="Europe/Berlin",
        participants=[rita, other],
        shift="daily",
        start="2026-01-01",
    )
    make_schedule(name="Not mine", participants=[other])
    page = client.get(PAGE).content.decode()
    assert "Payments" in page and "Asia/Tokyo" in page
    assert "Platform" in page and "Europe/Berlin" in page
    assert "Not mine" not in page
    assert "(now)" in page  # always on call for Payments


def test_the_personal_feed_url_is_shown_only_to_its_owner(client, rita, other):
    others_url = user_calendar(user=other).ical_url
    page = client.get(PAGE).content.decode()
    assert user_calendar(user=rita).ical_url in page
    assert others_url not in page
    schedule = make_schedule(participants=[other])
    client.force_login(UserFactory(username="admin", is_superuser=True))
    for url in ("/admin/", f"/admin/incidents/schedule/{schedule.pk}/change/", PAGE):
        assert others_url not in client.get(url).content.decode()


def test_rotate_the_personal_link(client, rita):
    old = user_calendar(user=rita).ical_url
    assert Client().get(old.removeprefix(settings.TOCSIN_BASE_URL)).status_code == 200
    answer = client.post(f"{PAGE}calendar/rotate/")
    assert answer.status_code == 302
    new = UserCalendar.objects.get(user=rita).ical_url
    assert new != old
    assert Client().get(old.removeprefix(settings.TOCSIN_BASE_URL)).status_code == 404
    assert Client().get(new.removeprefix(settings.TOCSIN_BASE_URL)).status_code == 200
    assert new in client.get(PAGE).content.decode()
    assert client.get(f"{PAGE}calendar/rotate/").status_code == 405


def test_page_runs_a_fixed_number_of_queries(client, rita, django_assert_max_num_queries):
    for i in range(6):
        contact_method_create(
            user=rita, kind="email", address=f"r{i}@example.com", notify_after=timedelta(minutes=i)
        )
        make_schedule(name=f"S{i}", participants=[rita], shift="daily", start="2026-01-01")
    client.get(PAGE)
    with django_assert_max_num_queries(20):
        assert client.get(PAGE).status_code == 200
