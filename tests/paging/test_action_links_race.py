"""Two presses of one action link at the same moment act once (the unique link id)."""

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.utils import timezone

from incidents.models import ActionLinkUse, Notification
from incidents.paging import engine as escalation
from incidents.paging.policies import StepInput, escalation_policy_create
from tests.factories import ServiceFactory, UserFactory, make_incident

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_presses_at_once_escalate_once(settings):
    settings.TOCSIN_BASE_URL = "http://testserver"
    rita = UserFactory(username="rita")
    rita.groups.add(Group.objects.get(name="Responder"))
    lee = UserFactory(username="lee")
    policy = escalation_policy_create(
        name="Checkout",
        steps=[
            StepInput(delay=timedelta(0), targets=[rita]),
            StepInput(delay=timedelta(minutes=15), targets=[lee]),
            StepInput(delay=timedelta(minutes=30), targets=[rita]),
        ],
    )
    service = ServiceFactory(name="Checkout", escalation_policy=policy)
    now = timezone.now()
    incident = make_incident(services=[service], detected_at=now)
    state = escalation.escalation_start(incident_id=incident.pk, now=now)
    assert escalation.escalation_fire_step(escalation_id=state.pk, now=now)
    url = Notification.objects.get(incident=incident, user=rita).links["escalate"]
    path = url.removeprefix("http://testserver")
    token = path.removeprefix("/act/")

    start = threading.Barrier(2)
    answers = []

    def press():
        try:
            start.wait(timeout=30)
            answers.append(Client().post(path, {"token": token}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=press) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == [200, 410]
    assert ActionLinkUse.objects.count() == 1
    # One escalation: step 2 paged Lee; step 3 (Rita again) did not fire.
    assert Notification.objects.filter(incident=incident, step=1).count() == 1
    assert not Notification.objects.filter(incident=incident, step=2).exists()
