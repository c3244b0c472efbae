"""Schemathesis against /api/schema/: no 5xx and no answer the schema does not describe.

Every operation in the schema is fuzzed, in-process against the WSGI app, inside the test's
database transaction, with a user API token (Incident manager, superuser) and an integration
token of each kind. A small world exists first (a service, an incident with its escalation,
post-mortem and runbook, a schedule, a policy) and half of the generated ids are pointed at
it, so operations reach their domain code and not only their 404. No operation is left out.
Generation is derandomized, so the run is the same every time; 40 examples per operation
keep it near a minute on two cores (random seeds at 100 examples found nothing more).
"""

from datetime import timedelta
from urllib.parse import unquote

import pytest
import schemathesis
from django.contrib.auth.models import Group
from django.core import signals
from django.db import close_old_connections
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, settings
from knox.models import AuthToken
from schemathesis.specs.openapi.checks import positive_data_acceptance

from config.wsgi import application
from incidents.models import Integration
from incidents.paging.engine import escalation_start
from incidents.paging.policies import StepInput, escalation_policy_create
from postmortems.services import postmortem_draft
from tests.factories import (
    ServiceFactory,
    UserFactory,
    make_incident,
    make_integration,
    make_runbook,
    make_schedule,
)

schema = schemathesis.pytest.from_fixture("api_schema")

INGEST_KINDS = {
    "/api/v1/integrations/alertmanager/": "alertmanager",
    "/api/v1/integrations/grafana/": "grafana",
    "/api/v1/integrations/generic/": "generic",
}

# Which object an `{id}` names, by the path's first segments.
ID_OWNERS = {
    "/api/v1/incidents/": "incident",
    "/api/v1/schedules/": "schedule",
    "/api/v1/services/": "service",
    "/api/v1/escalation-policies/": "policy",
    "/api/v1/integrations/": "integration",
}

# Skipped check: "a request the schema allows must be accepted" cannot hold for a relational
# API, whose valid values depend on rows (an existing severity key, a free slug, a known
# username) and on rules across fields (an override ends after it starts). Those answers are
# 400s naming the field, which the schema documents; every other check stays on, including
# its mirror image (a request the schema forbids must be refused).
EXCLUDED_CHECKS = [positive_data_acceptance]


@pytest.fixture
def api_schema(db):
    # As Django's test client does: a finished request must not close the connection that
    # holds the test's transaction.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/", application)
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def credentials(db):
    user = UserFactory(username="fuzzer", is_superuser=True)
    user.groups.add(Group.objects.get(name="Incident manager"))
    _, key = AuthToken.objects.create(user)
    tokens = {
        kind: make_integration(name=f"fuzz-{kind}", kind=kind, rate_limit_per_second=0)[1]
        for kind in ("alertmanager", "grafana", "generic", "pagerduty", "opsgenie")
    }
    return user, key, tokens


@pytest.fixture
def world(credentials):
    user = credentials[0]
    schedule = make_schedule(name="Fuzz primary", participants=[user])
    policy = escalation_policy_create(
        name="Fuzz policy", steps=[StepInput(delay=timedelta(minutes=5), targets=[schedule])]
    )
    service = ServiceFactory(name="Checkout", slug="checkout", escalation_policy=policy)
    incident = make_incident(services=[service], actor=user)
    escalation_start(incident_id=incident.pk)
    postmortem_draft(incident=incident, actor=user)
    make_runbook(services=[service])
    return {
        "incident": incident,
        "schedule": schedule,
        "service": service,
        "policy": policy,
        "integration": Integration.objects.get(name="fuzz-generic"),
    }


def point_at_world(case, world, username: str) -> None:
    """Half of the generated ids (the even ones) become the world's object of that kind."""
    params = case.path_parameters or {}
    path = case.operation.path
    owner = next((kind for prefix, kind in ID_OWNERS.items() if path.startswith(prefix)), None)
    value = params.get("id")
    if owner and isinstance(value, int) and value % 2 == 0:
        params["id"] = world[owner].pk
    if isinstance(params.get("username"), str) and len(params["username"]) % 2 == 0:
        params["username"] = username


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_answers_within_its_schema(case, credentials, world):
    user, key, tokens = credentials
    path = case.operation.path
    if path in INGEST_KINDS:
        headers = {"Authorization": f"Bearer {tokens[INGEST_KINDS[path]]}"}
    elif path.startswith("/v2/alerts"):
        headers = {"Authorization": f"GenieKey {tokens['opsgenie']}"}
    elif path == "/v2/enqueue":
        headers = {}
        # Generated keys are never ours; put the real one where the case has one at all.
        routing_key = case.body.get("routing_key") if isinstance(case.body, dict) else None
        if isinstance(routing_key, str) and 0 < len(routing_key) <= 64:
            case.body["routing_key"] = tokens["pagerduty"]
    else:
        headers = {"Authorization": f"Token {key}"}
        point_at_world(case, world, user.username)
    case.call_and_validate(headers=headers, excluded_checks=EXCLUDED_CHECKS)


# The same operations without rights: anonymous callers are refused with 401, a Viewer's writes
# with 403, and nothing answers 5xx. A generated path that matches no URL (an id that is no
# number) is a 404 before anyone is asked who they are. Few examples: most stop at the check.
ROLE_SETTINGS = settings(
    max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
READ = {"GET", "HEAD", "OPTIONS"}


@pytest.fixture
def viewer_key(db):
    viewer = UserFactory(username="vera-fuzz")
    viewer.groups.add(Group.objects.get(name="Viewer"))
    return viewer, AuthToken.objects.create(viewer)[1]


def _refusal(case, response, refused: int) -> tuple[int, set[int]]:
    """(status, what it may be): `refused`; 404 where the path routes nowhere; 415 for a body
    sent as something other than JSON."""
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"
    expected = {refused}
    try:
        routed = resolve(unquote(case.formatted_path)).url_name != "api-not-found"
    except Resolver404:
        routed = False
    if not routed:
        expected.add(404)
    sent_as = response.request.headers.get("Content-Type") or "application/json"
    if not sent_as.startswith("application/json"):
        expected.add(415)
    return response.status_code, expected


@schema.parametrize()
@ROLE_SETTINGS
def test_api_refuses_anonymous_callers_and_a_viewers_writes(case, credentials, world, viewer_key):
    path, method = case.operation.path, case.method.upper()
    if path == "/v2/enqueue":
        return  # PagerDuty's events API authenticates by the routing key in the body (above)
    point_at_world(case, world, credentials[0].username)
    status, expected = _refusal(case, case.call(), 401)
    if method == case.operation.method.upper():  # not one of the generated wrong methods
        assert status in expected, f"{method} {case.formatted_path} answered {status} to nobody"
    if path in INGEST_KINDS or path.startswith("/v2/"):
        return  # integration tokens, not people, post alerts
    viewer, key = viewer_key
    point_at_world(case, world, viewer.username)
    answer = case.call(headers={"Authorization": f"Token {key}"})
    status, expected = _refusal(case, answer, 403)
    expected.add(404)  # a write to a user or object that does not exist may say so first
    assert status != 401
    # Everyone keeps their own contact methods (a Viewer too).
    own = (case.path_parameters or {}).get("username") == viewer.username
    if method not in READ and method == case.operation.method.upper() and not own:
        assert status in expected, f"{method} {case.formatted_path}: {status} to a Viewer"
