"""Which runbooks fit an incident. Read-only; called by the incident page, the API and paging.

Score = the sum of the weights of the runbook's rules that hold for the incident, plus the
service weight once per service the runbook and the incident share. Each rule counts once,
however many alerts satisfy it. Runbooks scoring 0 are not suggested. Ties break by title, so
the same data always gives the same answer.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

from incidents.models import Alert, Incident
from runbooks.models import DEFAULT_WEIGHTS, MatchKind, MatchRule, Runbook, describe_rule


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


def _rule_holds(kind: str, key: str, value: str, labels, service_slugs, title: str) -> bool:
    if kind == MatchKind.LABEL_EQUALS:
        return value in labels.get(key, ())
    if kind == MatchKind.LABEL_MATCHES:
        # Anchored, as Alertmanager's =~ is.
        pattern = _regex(value)
        return pattern is not None and any(pattern.fullmatch(v) for v in labels.get(key, ()))
    if kind == MatchKind.SERVICE:
        return value in service_slugs
    if kind == MatchKind.TITLE_KEYWORD:
        return value.strip().casefold() in title
    return False


def match_runbooks(incident: Incident, limit: int | None = None) -> list[Match]:
    """The runbooks that fit (the best `limit`, or all), best first.

    Six queries whatever the number of runbooks. Rules are read as plain tuples and only the
    runbooks returned become model instances, so a catalogue of thousands stays cheap
    (bench/runbooks_matching.py).
    """
    labels = _label_values(incident)
    services = dict(incident.services.values_list("pk", "slug"))
    slugs = set(services.values())
    title = incident.title.casefold()
    scores: dict[int, int] = defaultdict(int)
    reasons: dict[int, list[str]] = defaultdict(list)
    rules = MatchRule.objects.order_by("runbook_id", "kind", "key", "value", "id").values_list(
        "runbook_id", "kind", "key", "value", "weight"
    )
    for runbook_id, kind, key, value, weight in rules:
        if _rule_holds(kind, key, value, labels, slugs, title):
            scores[runbook_id] += weight
            reasons[runbook_id].append(describe_rule(kind, key, value))
    shared = (
        Runbook.services.through.objects.filter(service_id__in=services)
        .order_by("runbook_id", "service_id")
        .values_list("runbook_id", "service_id")
    )
    for runbook_id, service_id in shared:
        scores[runbook_id] += DEFAULT_WEIGHTS[MatchKind.SERVICE]
        reasons[runbook_id].append(f"service {services[service_id]}")
    scored = [pk for pk, score in scores.items() if score > 0]
    if not scored:
        return []
    # Rank on (id, title) rows; build model instances only for the ones asked for.
    titles = dict(Runbook.objects.filter(pk__in=scored).values_list("pk", "title"))
    ranked = sorted(titles, key=lambda pk: (-scores[pk], titles[pk].casefold(), pk))[:limit]
    runbooks = Runbook.objects.in_bulk(ranked)
    return [Match(runbooks[pk], scores[pk], tuple(reasons[pk])) for pk in ranked if pk in runbooks]


def runbooks_for_incident(incident: Incident, limit: int = 3) -> list[Runbook]:
    """The best `limit` runbooks for the incident, best first (each carries `.match_score`)."""
    best = []
    for match in match_runbooks(incident, limit=limit):
        match.runbook.match_score = match.score
        match.runbook.match_reasons = match.reasons
        best.append(match.runbook)
    return best


def page_runbooks(incident: Incident) -> list[dict]:
    """The best runbook for a page (the PAGE_RUNBOOKS provider): its title and full URL."""
    return [
        {"title": r.title, "url": settings.TOCSIN_BASE_URL + r.get_absolute_url()}
        for r in runbooks_for_incident(incident, limit=1)
    ]
