import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

from incidents.core.choices import IncidentStatus
from incidents.core.instants import InstantError, parse_instant
from incidents.models import Incident


class InstantField(IsoDateTimeField):
    """A filter's instant, read by the API's one rule (incidents.core.instants)."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return parse_instant(str(value).replace(" ", "+"))
        except InstantError as error:
            raise forms.ValidationError(str(error), code="invalid") from error


class InstantFilter(django_filters.IsoDateTimeFilter):
    field_class = InstantField


class IncidentFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=[*IncidentStatus.choices, ("open", "Open (not resolved)")],
        method="filter_status",
        help_text="One or more statuses; `open` means any status but resolved.",
    )
    severity = django_filters.CharFilter(
        field_name="severity__key", lookup_expr="iexact", help_text="Severity key, e.g. P1."
    )
    service = django_filters.CharFilter(
        field_name="services__slug", help_text="Service slug.", distinct=True
    )
    detected_after = InstantFilter(field_name="detected_at", lookup_expr="gte")
    detected_before = InstantFilter(field_name="detected_at", lookup_expr="lt")

    class Meta:
        model = Incident
        fields = ["status", "severity", "service"]

    def filter_status(self, queryset, name, value):
        wanted = set(value)
        if "open" in wanted:
            wanted.discard("open")
            wanted |= {s for s in IncidentStatus if s != IncidentStatus.RESOLVED}
        return queryset.filter(status__in=wanted)
