"""Suggesting runbooks for an incident: alert labels, services and title keywords, in a stable order."""

import pytest

from incidents.alerts.events import TRIGGER, AlertEvent
from incidents.alerts.pipeline import alert_ingest
from incidents.models import Incident
from runbooks.matching import match_runbooks, runbooks_for_incident
from tests.factories import ServiceFactory, make_incident, make_integration, make_runbook


def incident_from_alert(*, labels, summary="Alert firing", service=None):
    integration, _ = make_integration(name="prometheus", kind="alertmanager", service=service)
    outcome = alert_ingest(
        integration=integration,
        events=[AlertEvent(action=TRIGGER, dedup_key="k1", summary=summary, labels=labels)],
    )
    return Incident.objects.get(pk=next(iter(outcome.incidents)))


def titles(runbooks):
    return [runbook.title for runbook in runbooks]


def test_an_alert_label_equal_to_a_rule_suggests_the_runbook(db):
    make_runbook(title="Database connection pool exhausted", match={"alertname": "PgPoolExhausted"})
    make_runbook(title="Redis unavailable", match={"alertname": "RedisDown"})

    incident = incident_from_alert(labels={"alertname": "PgPoolExhausted", "env": "prod"})

    assert titles(runbooks_for_incident(incident)) == ["Database connection pool exhausted"]


def test_label_regex_rules_match_the_whole_value(db):
    make_runbook(title="Redis", rules=[("label_matches", "alertname", "Redis.*", 8)])
    make_runbook(title="Not anchored", rules=[("label_matches", "alertname", "Down", 8)])

    incident = incident_from_alert(labels={"alertname": "RedisDown"})

    assert titles(runbooks_for_incident(incident)) == ["Redis"]


def test_higher_total_weight_ranks_first(db):
    database = ServiceFactory(name="Database", slug="database")
    make_runbook(title="A generic database runbook", services=[database])  # service: 5
    make_runbook(
        title="Z pool exhausted",
        services=[database],
        match={"alertname": "PgPoolExhausted"},  # 10 + service 5
    )
    make_runbook(title="M keyword only", rules=[("title_keyword", "", "pool", 3)])

    incident = incident_from_alert(labels={"alertname": "PgPoolExhausted"}, service=database)
    incident.title = "Connection pool exhausted on primary"
    incident.save(update_fields=["title"])

    ranked = match_runbooks(incident)
    assert [(m.runbook.title, m.score) for m in ranked] == [
        ("Z pool exhausted", 15),
        ("A generic database runbook", 5),
        ("M keyword only", 3),
    ]


def test_ties_break_by_title_and_limit_cuts_the_list(db, service):
    for title in ("Charlie", "alpha", "Bravo", "Delta"):
        make_runbook(title=title, services=[service])
    incident = make_incident(services=[service])

    assert titles(runbooks_for_incident(incident)) == ["alpha", "Bravo", "Charlie"]
    assert titles(runbooks_for_incident(incident, limit=10)) == [
        "alpha",
        "Bravo",
        "Charlie",
        "Delta",
    ]
    assert titles(runbooks_for_incident(incident, limit=1)) == ["alpha"]


def test_title_keywords_are_case_insensitive(db):
    make_runbook(title="Payment webhooks failing", rules=[("title_keyword", "", "Webhook", 3)])

    incident = make_incident(title="Stripe WEBHOOKS return 401")

    assert titles(runbooks_for_incident(incident)) == ["Payment webhooks failing"]


def test_service_rules_match_the_incident_services(db):
    payments = ServiceFactory(name="Payments", slug="payments")
    make_runbook(title="Payments", rules=[("service", "", "payments", 7)])
    incident = make_incident(services=[payments])

    assert [(m.runbook.title, m.score) for m in match_runbooks(incident)] == [("Payments", 7)]


def test_each_rule_counts_once_however_many_alerts_carry_the_label(db):
    make_runbook(title="Pool", match={"alertname": "PgPoolExhausted"})
    integration, _ = make_integration(name="prometheus", kind="alertmanager")
    events = [
        AlertEvent(
            action=TRIGGER,
            dedup_key=f"k{i}",
            summary="pool",
            labels={"alertname": "PgPoolExhausted"},
        )
        for i in range(3)
    ]
    outcome = alert_ingest(integration=integration, events=events)
    incident = Incident.objects.get(pk=next(iter(outcome.incidents)))

    assert [m.score for m in match_runbooks(incident)] == [10]


def test_nothing_matches_nothing_is_suggested(db):
    make_runbook(title="Redis unavailable", match={"alertname": "RedisDown"})

    incident = make_incident(title="Typo on the About page")

    assert runbooks_for_incident(incident) == []


@pytest.mark.parametrize("count", [5, 50])
def test_matching_runs_a_fixed_number_of_queries(db, service, count, django_assert_max_num_queries):
    for n in range(count):
        make_runbook(
            title=f"Runbook {n:02}",
            services=[service],
            match={"alertname": f"Alert{n}"},
            rules=[("title_keyword", "", "checkout", 3)],
        )
    incident = make_incident(services=[service])

    with django_assert_max_num_queries(6):
        found = runbooks_for_incident(incident)

    assert len(found) == 3
