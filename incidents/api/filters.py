import django_filters

from incidents.choices import IncidentStatus
from incidents.models import Incident


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
    detected_after = django_filters.IsoDateTimeFilter(field_name="detected_at", lookup_expr="gte")
    detected_before = django_filters.IsoDateTimeFilter(field_name="detected_at", lookup_expr="lt")

    class Meta:
        model = Incident
        fields = ["status", "severity", "service"]

    def filter_status(self, queryset, name, value):
        wanted = set(value)
        if "open" in wanted:
            wanted.discard("open")
            wanted |= {s for s in IncidentStatus if s != IncidentStatus.RESOLVED}
        return queryset.filter(status__in=wanted)
