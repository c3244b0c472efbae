"""One rule for every instant the API takes: with its UTC offset, or a 400 naming the field.

A date-time without an offset is refused in bodies, query parameters and filters alike (it
would mean a different instant in every zone); a report's bare date means that day in UTC."""

import pytest

from incidents.core.instants import NAIVE
from incidents.models import Incident, Override
from tests.api.test_api_input_refusals import api  # noqa: F401  (the fixture)
from tests.factories import UserFactory, make_schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def schedule(db):
    return make_schedule(participants=[UserFactory(username="oncall")])


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/schedules/{schedule}/oncall/?at=2026-01-05T09:00:00", "at"),
        (
            "/api/v1/schedules/{schedule}/shifts/?start=2026-01-05T09:00:00"
            "&end=2026-01-06T09:00:00Z",
            "start",
        ),
        ("/api/v1/reports/response-times/?since=2026-01-05T09:00:00", "since"),
        ("/api/v1/incidents/?detected_after=2026-01-05T09:00:00", "detected_after"),
    ],
)
def test_a_query_time_without_an_offset_is_a_400_naming_it(api, schedule, url, field):  # noqa: F811
    answer = api.get(url.format(schedule=schedule.pk))
    assert answer.status_code == 400, answer.content
    assert NAIVE in answer.json()[field]


def test_a_body_time_without_an_offset_is_a_400_naming_it(api, schedule):  # noqa: F811
    body = {"user": "oncall", "start": "2026-01-05T09:00:00", "end": "2026-01-05T17:00:00Z"}
    answer = api.post(f"/api/v1/schedules/{schedule.pk}/overrides/", body, format="json")
    assert answer.status_code == 400
    assert answer.json() == {"start": [NAIVE]}
    assert not Override.objects.exists()

    body = {"title": "Checkout down", "severity": "P1", "started_at": "2026-01-05 09:00"}
    answer = api.post("/api/v1/incidents/", body, format="json")
    assert answer.status_code == 400
    assert answer.json() == {"started_at": [NAIVE]}
    assert not Incident.objects.exists()


def test_times_with_an_offset_are_read_as_their_utc_instant(api, schedule):  # noqa: F811
    body = {
        "user": "oncall",
        "start": "2030-01-05T10:00:00+01:00",
        "end": "2030-01-05T17:00:00.123456789Z",
    }
    answer = api.post(f"/api/v1/schedules/{schedule.pk}/overrides/", body, format="json")
    assert answer.status_code == 201, answer.content
    override = Override.objects.get()
    assert override.starts_at.isoformat() == "2030-01-05T09:00:00+00:00"
    assert override.ends_at.isoformat() == "2030-01-05T17:00:00.123456+00:00"
    # An unencoded '+' arrives as a space and still reads as the offset.
    answer = api.get(f"/api/v1/schedules/{schedule.pk}/oncall/?at=2030-01-05T12:00:00+01:00")
    assert answer.status_code == 200
    assert answer.json() == {"users": ["oncall"]}


def test_a_report_takes_bare_dates_as_whole_days_in_utc(api):  # noqa: F811
    answer = api.get("/api/v1/reports/response-times/?since=2026-03-01&until=2026-03-01")
    assert answer.status_code == 200, answer.content
