import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

from incidents.api.instants import OUT_OF_RANGE, bounded_utc
from incidents.core.choices import IncidentStatus
from incidents.models import Incident


class InstantField(IsoDateTimeField):
    """ISO 8601, converted to UTC within the range the database and the domain handle."""

    def to_python(self, value):
        instant = super().to_python(value)
        if instant is None:
            return None
        instant = bounded_utc(instant)
        if instant is None:
            raise forms.ValidationError(OUT_OF_RANGE, code="out_of_range")
        return instant


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
