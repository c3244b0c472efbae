from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from incidents.alerts.integrations import integration_create
from incidents.models import Integration, Service, Severity
from incidents.models.alert import IntegrationKind


class Command(BaseCommand):
    help = "Create an integration and print its token (alone on the last line; shown once)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--kind", required=True, choices=IntegrationKind.values)
        parser.add_argument("--service", metavar="SLUG", help="Default service of its incidents.")
        parser.add_argument("--severity", metavar="KEY", help="Default severity, e.g. P2.")
        parser.add_argument(
            "--rate-limit",
            type=int,
            metavar="N",
            help="Requests accepted per second, on average (default 100; 0 for no limit).",
        )
        parser.add_argument(
            "--burst",
            type=int,
            metavar="N",
            help="Requests accepted at once above the average (default 1000; 0 for no limit).",
        )

    def handle(
        self,
        *args,
        name,
        kind,
        service=None,
        severity=None,
        rate_limit=None,
        burst=None,
        **options,
    ):
        if Integration.objects.filter(name=name).exists():
            raise CommandError(f"An integration named {name!r} exists already.")
        service_obj = severity_obj = None
        if service:
            service_obj = Service.objects.filter(slug=service).first()
            if service_obj is None:
                raise CommandError(f"No service with slug {service!r}.")
        if severity:
            severity_obj = Severity.objects.filter(key__iexact=severity).first()
            if severity_obj is None:
                raise CommandError(f"No severity {severity!r}.")
        if rate_limit is not None and rate_limit < 0:
            raise CommandError("--rate-limit must be 0 or more.")
        if burst is not None and burst < 0:
            raise CommandError("--burst must be 0 or more.")
        try:
            integration, token = integration_create(
                name=name,
                kind=kind,
                service=service_obj,
                severity=severity_obj,
                rate_limit_per_second=rate_limit,
                rate_limit_burst=burst,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            f"Created {integration} (id {integration.pk}). Copy the token now; "
            "it is stored hashed and will not be shown again:"
        )
        self.stdout.write(token)
