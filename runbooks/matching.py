"""Which runbooks fit an incident. Read-only; called by the incident page, the API and paging.

Score = the sum of the weights of the runbook's rules that hold for the incident, plus the
service weight once per service the runbook and the incident share. Each rule counts once,
however many alerts satisfy it. Runbooks scoring 0 are not suggested. Ties break by title, so
the same data always gives the same answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.db.models import Prefetch

from incidents.models import Alert, Incident
from runbooks.models import DEFAULT_WEIGHTS, MatchKind, MatchRule, Runbook


@dataclass(frozen=True)
class Match:
    runbook: Runbook
    score: int
    reasons: tuple[str, ...]

    @property
    def url(self) -> str:
        return f"{settings.TOCSIN_BASE_URL}{self.runbook.get_absolute_url()}"


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None  # the admin and the importer refuse these; an old row just never matches


def _label_values(incident: Incident) -> dict[str, set[str]]:
    values: dict[str, set[str]] = {}
    for labels in Alert.objects.filter(incident=incident).values_list("labels", flat=True):
        if isinstance(labels, dict):
            for key, value in labels.items():
                values.setdefault(str(key), set()).add(str(value))
    return values


def _rule_holds(rule: MatchRule, labels, service_slugs, title: str) -> bool:
    if rule.kind == MatchKind.LABEL_EQUALS:
        return rule.value in labels.get(rule.key, ())
    if rule.kind == MatchKind.LABEL_MATCHES:
        # Anchored, as Alertmanager's =~ is.
        pattern = _regex(rule.value)
        return pattern is not None and any(pattern.fullmatch(v) for v in labels.get(rule.key, ()))
    if rule.kind == MatchKind.SERVICE:
        return rule.value in service_slugs
    if rule.kind == MatchKind.TITLE_KEYWORD:
        return rule.value.strip().casefold() in title
    return False


def match_runbooks(incident: Incident) -> list[Match]:
    """Every runbook that fits, best first. Five queries whatever the number of runbooks."""
    labels = _label_values(incident)
    services = {s.pk: s.slug for s in incident.services.all()}
    slugs = set(services.values())
    title = incident.title.casefold()
    service_weight = DEFAULT_WEIGHTS[MatchKind.SERVICE]
    matches = []
    runbooks = Runbook.objects.prefetch_related(
        Prefetch("rules", queryset=MatchRule.objects.order_by("kind", "key", "value", "id")),
        "services",
    )
    for runbook in runbooks:
        score, reasons = 0, []
        for rule in runbook.rules.all():
            if _rule_holds(rule, labels, slugs, title):
                score += rule.weight
                reasons.append(str(rule))
        for service in runbook.services.all():
            if service.pk in services:
                score += service_weight
                reasons.append(f"service {service.slug}")
        if score > 0:
            matches.append(Match(runbook, score, tuple(reasons)))
    matches.sort(key=lambda m: (-m.score, m.runbook.title.casefold(), m.runbook.pk))
    return matches


def runbooks_for_incident(incident: Incident, limit: int = 3) -> list[Runbook]:
    """The best `limit` runbooks for the incident, best first (each carries `.match_score`)."""
    best = []
    for match in match_runbooks(incident)[:limit]:
        match.runbook.match_score = match.score
        match.runbook.match_reasons = match.reasons
        best.append(match.runbook)
    return best
