"""Applying alert events: dedup in the database, incidents opened, attached and resolved.

Everything a request carries is applied in one transaction, committed before the sender is
told 202. It touches the database only: paging starts in that same transaction (the lifecycle's
required hooks), and only publishing its timers waits for the commit.
"""

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime

from django.db import connection
from django.utils import timezone

from incidents.alerts.credentials import without_credentials
from incidents.alerts.events import ACKNOWLEDGE, RESOLVE, TRIGGER, AlertEvent
from incidents.core.bulk import bulk_set
from incidents.core.choices import IncidentStatus, TimelineKind
from incidents.core.lifecycle import (
    NewIncident,
    incident_acknowledge,
    incident_create_many,
    incident_resolve,
    incident_set_severity,
)
from incidents.core.locks import lock_existing, retry_on_conflict
from incidents.core.timeline import timeline_entry, timeline_record, timeline_record_many
from incidents.core.validators import fold_lines
from incidents.models import Alert, AlertStatus, Incident, Integration, Severity

logger = logging.getLogger(__name__)

FALLBACK_SEVERITY = "P2"


@dataclass
class IngestOutcome:
    """What happened, for answers and tests: alert ids by what was done to them."""

    opened: list[int] = field(default_factory=list)
    repeated: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    acknowledged: list[int] = field(default_factory=list)
    ignored: int = 0
    incidents: set[int] = field(default_factory=set)


def _commit_waiting_for_flush() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO ON")


def _commit_without_waiting_for_flush() -> None:
    """Let this transaction's COMMIT return before its WAL reaches disk (PostgreSQL only).

    Only for writes that carry nothing a sender relies on: a crash may forget the last few
    hundred milliseconds of them, never a first sighting, a resolve or an acknowledgement.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def alert_ingest(*, integration: Integration, events: Iterable[AlertEvent]) -> IngestOutcome:
    """Apply a request's events in one transaction.

    Alerts are handled in dedup-key order so that concurrent requests lock rows in the same
    order (each alert row before its incident: incidents.core.locks); a deadlock or
    serialization failure reruns the whole request. A required hook that fails (starting an
    incident's escalation) raises HookFailed and nothing of the request is kept.
    """
    ordered = sorted(map(_storable, events), key=lambda e: (e.dedup_key, e.alert_id or 0))
    # Only a transaction of our own may relax durability; inside a caller's, never.
    return _apply(integration, ordered, own=not connection.in_atomic_block)


@retry_on_conflict
def _apply(integration: Integration, events: list[AlertEvent], *, own: bool) -> IngestOutcome:
    if own:
        # Set before the first write, so a repeat holds its alert row's lock for one statement
        # and the commit only; durable writes turn it back on.
        _commit_without_waiting_for_flush()
    outcome = _Ingest(integration).run(events)
    if own and (outcome.opened or outcome.resolved or outcome.acknowledged):
        # A first sighting, resolve or acknowledgement: the 202 promises it is on disk. Only
        # pure repeats (counts, last-seen) may be lost in a crash.
        _commit_waiting_for_flush()
    return outcome


# Rows per multi-row statement (an upsert of firing alerts, a lookup of groups): a few hundred
# keep each statement's parameters well under SQLite's limit and its plan cheap.
CHUNK = 250


@dataclass
class _Firing:
    """The trigger events of one dedup key within a run of triggers, in arrival order."""

    key: str
    events: list[tuple[IngestOutcome, AlertEvent]] = field(default_factory=list)
    alert_id: int = 0
    inserted: bool = False
    incident_id: int | None = None

    @property
    def first(self) -> AlertEvent:
        return self.events[0][1]

    @property
    def last(self) -> AlertEvent:
        return self.events[-1][1]


class _Ingest:
    """One batch's worth of work; holds what it loads so it loads it once.

    Runs of trigger events are applied set-based: their repeats and first sightings in one
    multi-row upsert per chunk, the groups of the new alerts looked up in one query, the new
    incidents opened together (`incident_create_many`, whose hooks start their escalations
    together) and the alerts' timeline rows written in one insert. A resolve or an
    acknowledgement first applies the triggers before it, so every dedup key's events apply
    in arrival order and a resolve sees every alert that arrived before it.
    """

    def __init__(self, integration: Integration):
        self.integration = integration
        self.via = integration.via
        self.now = timezone.now()
        self._severities: dict[str, Severity] | None = None

    def run(self, events: list[AlertEvent]) -> IngestOutcome:
        return self.run_many([events])[0]

    def run_many(self, batches: list[list[AlertEvent]]) -> list[IngestOutcome]:
        """Apply several requests' events (each list in its order, the lists in theirs), and
        say what happened to each request's."""
        outcomes = [IngestOutcome() for _ in batches]
        triggers: list[tuple[IngestOutcome, AlertEvent]] = []
        for outcome, events in zip(outcomes, batches, strict=True):
            for event in events:
                if event.action == TRIGGER:
                    triggers.append((outcome, event))
                    continue
                if event.action not in (RESOLVE, ACKNOWLEDGE):
                    continue
                self.triggers(triggers)
                triggers = []
                if event.action == RESOLVE:
                    self.resolve(event, outcome)
                else:
                    self.acknowledge(event, outcome)
        self.triggers(triggers)
        return outcomes

    # --- triggers --------------------------------------------------------------------------
    def triggers(self, triggers: list[tuple[IngestOutcome, AlertEvent]]) -> None:
        if not triggers:
            return
        firing: dict[str, _Firing] = {}
        for outcome, event in triggers:
            firing.setdefault(event.dedup_key, _Firing(event.dedup_key)).events.append(
                (outcome, event)
            )
        # In dedup-key order, as concurrent writers lock alert rows (incidents.core.locks).
        keyed = sorted(firing.values(), key=lambda f: f.key)
        for start in range(0, len(keyed), CHUNK):
            _upsert_firing(self.integration, keyed[start : start + CHUNK], self.now)
        new = [f for f in firing.values() if f.inserted]
        if new:
            self._open_or_attach(new)
        for outcome, event in triggers:
            alert = firing[event.dedup_key]
            if alert.inserted and event is alert.first:
                outcome.opened.append(alert.alert_id)
            else:
                outcome.repeated.append(alert.alert_id)
            if alert.incident_id:
                outcome.incidents.add(alert.incident_id)

    def _open_or_attach(self, new: list[_Firing]) -> None:
        """Give each new alert the open incident of its group (or of earlier alerts of its
        key), opening one for each group that has none; then note them on the timeline."""
        found = _open_incidents_of(self.integration.pk, [_group_of(f.first) for f in new])
        rank_of = {group: rank for group, (_, rank) in found.items()}
        wanted: list[NewIncident] = []
        opening: dict[tuple[str, str], int] = {}  # group -> its index in `wanted`
        raises: list[tuple[tuple[str, str], Severity]] = []
        for alert in new:
            event = alert.first
            group = _group_of(event)
            severity = self.severity_for(event.severity)
            if group in rank_of:
                # A more severe alert raises its incident's severity, as it would alone.
                if severity.rank < rank_of[group]:
                    raises.append((group, severity))
                    rank_of[group] = severity.rank
                continue
            opening[group] = len(wanted)
            wanted.append(self._new_incident(event, severity))
            rank_of[group] = severity.rank
        created = incident_create_many(incidents=wanted, via=self.via) if wanted else []
        incident_of = {group: found[group][0] for group in found}
        incident_of.update({group: created[index].pk for group, index in opening.items()})
        for group, severity in raises:
            incident_set_severity(
                incident=Incident(pk=incident_of[group]), severity=severity, via=self.via
            )
        for alert in new:
            alert.incident_id = incident_of[_group_of(alert.first)]
        bulk_set(Alert, ["incident"], [(alert.alert_id, alert.incident_id) for alert in new])
        timeline_record_many(
            [
                timeline_entry(
                    incident=alert.incident_id,
                    kind=TimelineKind.ALERT,
                    via=self.via,
                    message=f"Alert firing: {alert.first.summary}",
                    after=_alert_facts(alert.alert_id, alert.first, AlertStatus.FIRING),
                )
                for alert in new
            ]
        )

    def _new_incident(self, event: AlertEvent, severity: Severity) -> NewIncident:
        service = self.integration.service
        return NewIncident(
            title=fold_lines(event.summary),  # a multi-line summary still opens the incident
            severity=severity,
            services=[service] if service else [],
            summary=str(event.annotations.get("description", ""))
            if isinstance(event.annotations, dict)
            else "",
            started_at=min(event.started_at, self.now) if event.started_at else None,
            detected_at=self.now,
        )

    def severity_for(self, raw: str) -> Severity:
        if self._severities is None:
            self._severities = {s.key.lower(): s for s in Severity.objects.all()}
        severities = self._severities
        raw = (raw or "").strip().lower()
        mapped = self.integration.effective_severity_mapping().get(raw, raw)
        if str(mapped).lower() in severities:
            return severities[str(mapped).lower()]
        if self.integration.severity_id and self.integration.severity:
            return self.integration.severity
        if FALLBACK_SEVERITY.lower() in severities:
            return severities[FALLBACK_SEVERITY.lower()]
        return max(severities.values(), key=lambda s: s.rank)

    # --- resolve and acknowledge -----------------------------------------------------------
    def _firing(self, event: AlertEvent) -> Alert | None:
        alerts = Alert.objects.select_for_update().filter(
            integration=self.integration, status=AlertStatus.FIRING
        )
        if event.alert_id is not None:
            return alerts.filter(pk=event.alert_id).first()
        return alerts.filter(dedup_key=event.dedup_key).first()

    def resolve(self, event: AlertEvent, outcome: IngestOutcome) -> None:
        alert = self._firing(event)
        if alert is None:
            # Senders resolve what they never told us about, or twice: accepted, ignored.
            outcome.ignored += 1
            return
        alert.status = AlertStatus.RESOLVED
        alert.resolved_at = self.now
        alert.last_seen_at = self.now
        if event.raw:
            alert.last_payload = event.raw
        alert.save(update_fields=["status", "resolved_at", "last_seen_at", "last_payload"])
        outcome.resolved.append(alert.pk)
        # Locking the incident serializes the "was that the last firing alert?" question.
        incident = self._note_on_incident(
            alert,
            outcome,
            f"Alert resolved: {alert.summary}",
            before={"status": AlertStatus.FIRING},
            after=_alert_facts(alert.pk, alert, AlertStatus.RESOLVED),
        )
        if incident is None:
            return
        if (
            self.integration.resolve_incident_on_alert_resolve
            and incident.status != IncidentStatus.RESOLVED
            and not Alert.objects.firing().filter(incident=incident).exists()
        ):
            incident_resolve(incident=incident, via=self.via, reason="All its alerts resolved.")

    def _note_on_incident(
        self, alert: Alert, outcome: IngestOutcome, message: str, **facts
    ) -> Incident | None:
        """Lock the alert's incident (if it has one) and note what happened to the alert."""
        if not alert.incident_id:
            return None
        outcome.incidents.add(alert.incident_id)
        incident = lock_existing(Incident(pk=alert.incident_id))
        timeline_record(
            incident=incident, kind=TimelineKind.ALERT, via=self.via, message=message, **facts
        )
        return incident

    def acknowledge(self, event: AlertEvent, outcome: IngestOutcome) -> None:
        alert = self._firing(event)
        if alert is None:
            outcome.ignored += 1
            return
        if alert.acknowledged_at is not None:
            return
        alert.acknowledged_at = self.now
        alert.save(update_fields=["acknowledged_at"])
        outcome.acknowledged.append(alert.pk)
        incident = self._note_on_incident(
            alert,
            outcome,
            f"Alert acknowledged by the sender: {alert.summary}",
            after=_alert_facts(alert.pk, alert, "acknowledged"),
        )
        if incident is not None and incident.status == IncidentStatus.TRIGGERED:
            incident_acknowledge(incident=incident, via=self.via)


def _alert_facts(alert_id: int, alert, status: str) -> dict:
    return {"alert": alert_id, "dedup_key": alert.dedup_key, "status": status}


def _group_of(event: AlertEvent) -> tuple[str, str]:
    """What a new alert is grouped by: its group key, or without one its dedup key."""
    return ("group_key", event.group_key) if event.group_key else ("dedup_key", event.dedup_key)


def _open_incidents_of(
    integration_id: int, groups: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, int]]:
    """For each group: (id, severity rank) of the open incident of its newest alert that has
    an open incident, if any. One query per column and chunk, whatever the number of groups;
    the new alerts themselves have no incident yet, so they never find themselves. Plain SQL:
    it runs for every batch."""
    alert = connection.ops.quote_name(Alert._meta.db_table)
    incident = connection.ops.quote_name(Incident._meta.db_table)
    severity = connection.ops.quote_name(Severity._meta.db_table)
    found: dict[tuple[str, str], tuple[int, int]] = {}
    for column in ("group_key", "dedup_key"):
        values = sorted({value for col, value in groups if col == column})
        for start in range(0, len(values), CHUNK):
            chunk = values[start : start + CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            sql = f"""
                SELECT a.{column}, i.id, s.rank FROM {alert} a
                JOIN {incident} i ON i.id = a.incident_id
                JOIN {severity} s ON s.id = i.severity_id
                WHERE a.id IN (
                    SELECT MAX(b.id) FROM {alert} b
                    JOIN {incident} j ON j.id = b.incident_id
                    WHERE b.integration_id = %s AND b.{column} IN ({marks}) AND j.status <> %s
                    GROUP BY b.{column}
                )
            """
            with connection.cursor() as cursor:
                cursor.execute(sql, [integration_id, *chunk, IncidentStatus.RESOLVED])
                for value, incident_id, rank in cursor.fetchall():
                    found[(column, value)] = (incident_id, rank)
    return found


def _upsert_firing(integration: Integration, firing: list[_Firing], now: datetime) -> None:
    """Insert each firing alert, or count the repeats of the one already firing, in one
    statement for the chunk; sets each one's alert id, whether it was inserted and its
    incident id.

    Each dedup key appears once (its events pre-aggregated: the last one's values win, the
    count adds the number of events). ON CONFLICT on the conditional unique index makes
    concurrent first sightings safe: one insert wins, the others wait for it to commit and
    become repeats. PostgreSQL and SQLite share this syntax.
    """
    table = connection.ops.quote_name(Alert._meta.db_table)
    jsonb = "::jsonb" if connection.vendor == "postgresql" else ""
    at = connection.ops.adapt_datetimefield_value(now)
    row = f"(%s, %s, 'firing', %s, %s, %s{jsonb}, %s{jsonb}, %s, %s, %s, %s, %s, %s, %s{jsonb})"
    sql = f"""
        INSERT INTO {table} AS a (
            integration_id, dedup_key, status, summary, severity, labels, annotations,
            source, link, group_key, first_seen_at, last_seen_at, count, last_payload
        )
        VALUES {", ".join([row] * len(firing))}
        ON CONFLICT (integration_id, dedup_key) WHERE status = 'firing'
        DO UPDATE SET
            count = a.count + EXCLUDED.count,
            last_seen_at = EXCLUDED.last_seen_at,
            summary = EXCLUDED.summary,
            severity = EXCLUDED.severity,
            labels = EXCLUDED.labels,
            annotations = EXCLUDED.annotations,
            source = EXCLUDED.source,
            link = EXCLUDED.link,
            last_payload = EXCLUDED.last_payload
        RETURNING dedup_key, id, count, incident_id
    """
    params = []
    for alert in firing:
        event = alert.last
        params += [
            integration.pk,
            alert.key,
            event.summary,
            event.severity[:64],
            _json(event.labels),
            _json(event.annotations),
            event.source[:255],
            event.link[:2048],
            event.group_key[:255],
            at,
            at,
            len(alert.events),
            _json(event.raw),
        ]
    by_key = {alert.key: alert for alert in firing}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for key, alert_id, count, incident_id in cursor.fetchall():
            alert = by_key[key]
            # A fresh row counts just this batch's events; a repeat adds them to its count.
            alert.alert_id, alert.inserted = alert_id, count == len(alert.events)
            alert.incident_id = incident_id


def _storable(event: AlertEvent) -> AlertEvent:
    """What may be stored of an event: no NULs, and no credentials in its raw payload."""
    event = _without_nul(event)
    if not event.raw:
        return event
    return replace(event, raw=without_credentials(event.raw))


def _without_nul(event: AlertEvent) -> AlertEvent:
    """PostgreSQL text and jsonb cannot hold NUL characters; valid JSON can. Drop them."""
    if "\\x00" not in repr(event):  # repr shows a NUL as the four characters \x00
        return event
    return AlertEvent(**{f.name: _strip_nul(getattr(event, f.name)) for f in fields(event)})


def _strip_nul(value):
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_nul(v) for v in value]
    return value


def _json(value) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))
