import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.text import slugify

from incidents.models import Service, Severity


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("correct horse battery staple")
    is_staff = True


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Service {n}")
    slug = factory.LazyAttribute(lambda s: slugify(s.name))


def severity(key: str = "P1") -> Severity:
    """The seeded severities exist in every test database (data migration 0002)."""
    return Severity.objects.get(key=key)


def make_incident(
    *,
    title: str = "Checkout returns 502",
    severity_key: str = "P1",
    services=(),
    actor=None,
    **kwargs,
):
    """Open an incident through the domain function, as every real caller does."""
    from incidents.core.lifecycle import incident_create

    return incident_create(
        title=title,
        severity=severity(severity_key),
        services=services,
        actor=actor,
        detected_at=kwargs.pop("detected_at", timezone.now()),
        **kwargs,
    )


def make_schedule(
    *,
    name: str = "Platform primary",
    time_zone: str = "UTC",
    participants=(),
    shift: str = "weekly",
    handoff_time: str = "09:00",
    handoff_weekday: int | None = 0,
    start: str = "2026-01-05",
    handoff_notify=(),
    **rotation_fields,
):
    """A one-layer schedule made through the domain function, as the admin and API do."""
    from datetime import date, time

    from incidents.oncall.schedules import RotationInput, parse_shift, schedule_create

    kind, hours = parse_shift(shift)
    return schedule_create(
        name=name,
        time_zone=time_zone,
        rotations=[
            RotationInput(
                name="Layer 1",
                participants=list(participants),
                handoff_time=time.fromisoformat(handoff_time),
                start_date=date.fromisoformat(start),
                shift_kind=kind,
                shift_hours=hours,
                handoff_weekday=handoff_weekday,
                **rotation_fields,
            )
        ],
        handoff_notify=handoff_notify,
    )


def make_integration(*, name: str = "prometheus", kind: str = "alertmanager", **kwargs):
    """An integration made as `create_integration` makes it; returns (integration, token)."""
    from incidents.alerts.integrations import integration_create

    return integration_create(name=name, kind=kind, **kwargs)


def make_runbook(
    *,
    title: str = "Database connection pool exhausted",
    services=(),
    steps=("Check the pool", "Kill idle sessions", "Watch latency"),
    match=None,
    rules=(),
    actor=None,
    **spec_fields,
):
    """A runbook saved through the domain function (as import and seed_demo do)."""
    from runbooks.files import Rule, RunbookSpec
    from runbooks.models import DEFAULT_WEIGHTS
    from runbooks.services import runbook_save_spec

    all_rules = [
        Rule("label_equals", k, v, DEFAULT_WEIGHTS["label_equals"])
        for k, v in (match or {}).items()
    ]
    all_rules += [Rule(*rule) for rule in rules]
    spec = RunbookSpec(
        title=title,
        services=[s.slug for s in services],
        steps=[{"instruction": s} if isinstance(s, str) else s for s in steps],
        rules=all_rules,
        **spec_fields,
    )
    runbook, _ = runbook_save_spec(spec=spec, actor=actor)
    return runbook


def api_client_for(user):
    """A REST client authenticated as `user` with a fresh API token, as scripts are."""
    from knox.models import AuthToken
    from rest_framework.test import APIClient

    _, key = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client
