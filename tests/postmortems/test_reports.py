"""Incident metrics against figures computed by hand on a fixed set of incidents."""

from datetime import UTC, date, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from incidents.models import Incident
from postmortems import reports
from postmortems.models import RootCauseCategory
from postmortems.services import postmortem_draft, postmortem_update
from tests.factories import ServiceFactory, make_incident

pytestmark = pytest.mark.django_db


def _at(month: int, day: int, hh: int, mm: int, year: int = 2026) -> datetime:
    return datetime(year, month, day, hh, mm, tzinfo=UTC)


def _incident(key, services, *, started, detected, acknowledged=None, resolved=None, category=None):
    incident = make_incident(severity_key=key, services=services)
    status = "resolved" if resolved else ("investigating" if acknowledged else "triggered")
    Incident.objects.filter(pk=incident.pk).update(
        status=status,
        started_at=started,
        detected_at=detected,
        acknowledged_at=acknowledged,
        resolved_at=resolved,
    )
    if category:
        postmortem, _ = postmortem_draft(incident=incident)
        postmortem_update(
            postmortem=postmortem, root_cause_category=RootCauseCategory.objects.get(name=category)
        )
    return incident


@pytest.fixture
def history():
    checkout = ServiceFactory(name="Checkout", slug="checkout")
    api = ServiceFactory(name="API", slug="api")
    # October 2025: outside the window, and more than 90 days before March: no repeat from it.
    _incident(
        "P2",
        [checkout],
        started=_at(10, 1, 9, 0, 2025),
        detected=_at(10, 1, 9, 0, 2025),
        acknowledged=_at(10, 1, 9, 30, 2025),
        resolved=_at(10, 1, 11, 0, 2025),
        category="Database",
    )
    # March: two P0s and an open P1.
    _incident(
        "P0",
        [checkout],
        started=_at(3, 4, 10, 0),
        detected=_at(3, 4, 10, 4),
        acknowledged=_at(3, 4, 10, 10),
        resolved=_at(3, 4, 10, 40),
        category="Database",
    )  # mttd 240 s, mtta 360 s, mttr 2160 s
    _incident(
        "P0",
        [api],
        started=_at(3, 9, 12, 0),
        detected=_at(3, 9, 12, 2),
        acknowledged=_at(3, 9, 12, 5),
        resolved=_at(3, 9, 13, 2),
        category="Database",
    )  # 120 / 180 / 3600; same category but no shared service with the first: not a repeat
    _incident("P1", [checkout], started=_at(3, 20, 9, 0), detected=_at(3, 20, 9, 0))  # 0 / - / -
    # April: a P1 on checkout with the same root cause as March's first P0: a repeat.
    _incident(
        "P1",
        [checkout, api],
        started=_at(4, 10, 8, 0),
        detected=_at(4, 10, 8, 10),
        acknowledged=_at(4, 10, 8, 40),
        resolved=_at(4, 10, 12, 10),
        category="Database",
    )  # 600 / 1800 / 14400
    # Same service, other category: not a repeat.
    _incident(
        "P2",
        [checkout],
        started=_at(4, 12, 8, 0),
        detected=_at(4, 12, 8, 0),
        acknowledged=_at(4, 12, 8, 5),
        resolved=_at(4, 12, 9, 0),
        category="Deployment",
    )  # 0 / 300 / 3600


SPRING = {"since": _at(3, 1, 0, 0), "until": _at(5, 1, 0, 0)}


def test_figures_per_severity_match_hand_computed_values(history):
    figures = {key: f.as_seconds() for key, f in reports.by_severity(**SPRING).items()}
    assert figures == {
        "P0": {"count": 2, "mttd": 180.0, "mtta": 270.0, "mttr": 2880.0, "repeat_incidents": 0},
        "P1": {"count": 2, "mttd": 300.0, "mtta": 1800.0, "mttr": 14400.0, "repeat_incidents": 1},
        "P2": {"count": 1, "mttd": 0.0, "mtta": 300.0, "mttr": 3600.0, "repeat_incidents": 0},
        "P3": {"count": 0, "mttd": None, "mtta": None, "mttr": None, "repeat_incidents": 0},
    }


def test_figures_per_month_and_severity(history):
    rows = [
        (row["month"], row["severity"], row["figures"].as_seconds())
        for row in reports.by_month_and_severity(**SPRING)
    ]
    assert rows == [
        (
            date(2026, 3, 1),
            "P0",
            {"count": 2, "mttd": 180.0, "mtta": 270.0, "mttr": 2880.0, "repeat_incidents": 0},
        ),
        (
            date(2026, 3, 1),
            "P1",
            {"count": 1, "mttd": 0.0, "mtta": None, "mttr": None, "repeat_incidents": 0},
        ),
        (
            date(2026, 4, 1),
            "P1",
            {"count": 1, "mttd": 600.0, "mtta": 1800.0, "mttr": 14400.0, "repeat_incidents": 1},
        ),
        (
            date(2026, 4, 1),
            "P2",
            {"count": 1, "mttd": 0.0, "mtta": 300.0, "mttr": 3600.0, "repeat_incidents": 0},
        ),
    ]


def test_figures_per_month_all_severities(history):
    rows = [(row["month"], row["figures"].as_seconds()) for row in reports.by_month(**SPRING)]
    assert rows == [
        (
            date(2026, 3, 1),
            {"count": 3, "mttd": 120.0, "mtta": 270.0, "mttr": 2880.0, "repeat_incidents": 0},
        ),
        (
            date(2026, 4, 1),
            {"count": 2, "mttd": 300.0, "mtta": 1050.0, "mttr": 9000.0, "repeat_incidents": 1},
        ),
    ]


def test_reports_run_a_fixed_number_of_queries(history, django_assert_num_queries):
    with django_assert_num_queries(2):  # the aggregate and the severities
        reports.by_severity(**SPRING)
    with django_assert_num_queries(1):
        reports.by_month_and_severity(**SPRING)


def test_response_times_endpoint_answers_seconds_per_severity(history, viewer):
    client = APIClient()
    client.force_authenticate(viewer)
    answer = client.get("/api/v1/reports/response-times/?since=2026-03-01&until=2026-04-30")
    assert answer.status_code == 200
    body = answer.json()
    assert body["P0"] == {
        "count": 2,
        "mttd": 180.0,
        "mtta": 270.0,
        "mttr": 2880.0,
        "repeat_incidents": 0,
    }
    assert body["P1"]["mtta"] == 1800.0
    assert body["P3"]["count"] == 0
    march = client.get(
        "/api/v1/reports/response-times/?since=2026-03-01T00:00:00Z&until=2026-04-01T00:00:00Z"
    ).json()
    assert march["P1"] == {
        "count": 1,
        "mttd": 0.0,
        "mtta": None,
        "mttr": None,
        "repeat_incidents": 0,
    }


def test_response_times_refuses_bad_dates_naming_the_field(viewer):
    client = APIClient()
    client.force_authenticate(viewer)
    bad = client.get("/api/v1/reports/response-times/?since=yesterday")
    assert bad.status_code == 400
    assert "since" in bad.json()
    backwards = client.get("/api/v1/reports/response-times/?since=2026-05-01&until=2026-04-01")
    assert backwards.status_code == 400
    assert "since" in backwards.json()


def test_response_times_needs_authentication():
    assert APIClient().get("/api/v1/reports/response-times/").status_code == 401


def test_month_starts_count_back_across_the_new_year():
    starts = reports.month_starts(_at(2, 15, 12, 0), 4)
    assert starts == [
        _at(11, 1, 0, 0, 2025),
        _at(12, 1, 0, 0, 2025),
        _at(1, 1, 0, 0),
        _at(2, 1, 0, 0),
    ]


def test_default_window_is_the_last_30_days(viewer):
    old = make_incident(severity_key="P3")
    Incident.objects.filter(pk=old.pk).update(
        detected_at=old.detected_at - timedelta(days=40),
        started_at=old.detected_at - timedelta(days=40),
    )
    make_incident(severity_key="P3")
    client = APIClient()
    client.force_authenticate(viewer)
    assert client.get("/api/v1/reports/response-times/").json()["P3"]["count"] == 1
