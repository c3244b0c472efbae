"""Changelist filters for the questions responders ask first: what is open, what is mine."""

from django.contrib import admin
from django.db.models import Q

from incidents.models import Responder


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.open()
        if self.value() == "resolved":
            return queryset.resolved()
        return queryset


class MineFilter(admin.SimpleListFilter):
    """Incidents the user commands or responds to."""

    title = "involvement"
    parameter_name = "mine"

    def lookups(self, request, model_admin):
        return [("yes", "Mine")]

    def queryset(self, request, queryset):
        if self.value() != "yes":
            return queryset
        # A subquery rather than a join, so no row appears twice and no DISTINCT is needed.
        responding = Responder.objects.filter(user=request.user).values("incident_id")
        return queryset.filter(Q(commander=request.user) | Q(pk__in=responding))


class UnacknowledgedFilter(admin.SimpleListFilter):
    title = "acknowledgement"
    parameter_name = "unacknowledged"

    def lookups(self, request, model_admin):
        return [("yes", "Unacknowledged")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.unacknowledged()
        return queryset
