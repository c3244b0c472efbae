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
from incidents.core.choices import IncidentStatus, TimelineKind
from incidents.core.lifecycle import (
    incident_acknowledge,
    incident_create,
    incident_resolve,
    incident_set_severity,
)
from incidents.core.locks import lock_existing, retry_on_conflict
from incidents.core.timeline import timeline_record
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


class _Ingest:
    """One request's worth of work; holds what it loads so it loads it once."""

    def __init__(self, integration: Integration):
        self.integration = integration
        self.via = integration.via
        self.now = timezone.now()
        self.outcome = IngestOutcome()
        self._severities: dict[str, Severity] | None = None

    def run(self, events: list[AlertEvent]) -> IngestOutcome:
        for event in events:
            if event.action == TRIGGER:
                self.trigger(event)
            elif event.action == RESOLVE:
                self.resolve(event)
            elif event.action == ACKNOWLEDGE:
                self.acknowledge(event)
        return self.outcome

    # --- trigger ---------------------------------------------------------------------------
    def trigger(self, event: AlertEvent) -> None:
        alert_id, inserted, incident_id = _upsert_firing(self.integration, event, self.now)
        if not inserted:
            self.outcome.repeated.append(alert_id)
            if incident_id:
                self.outcome.incidents.add(incident_id)
            return
        incident = self._incident_for(event, alert_id)
        Alert.objects.filter(pk=alert_id).update(incident=incident)
        timeline_record(
            incident=incident,
            kind=TimelineKind.ALERT,
            via=self.via,
            message=f"Alert firing: {event.summary}",
            after=_alert_facts(alert_id, event, AlertStatus.FIRING),
        )
        self.outcome.opened.append(alert_id)
        self.outcome.incidents.add(incident.pk)

    def _incident_for(self, event: AlertEvent, alert_id: int) -> Incident:
        """The open incident of the alert's group (or earlier alerts of its key), else a new one."""
        severity = self.severity_for(event.severity)
        found = _open_incident_of(
            integration_id=self.integration.pk,
            exclude_alert_id=alert_id,
            group_key=event.group_key,
            dedup_key=event.dedup_key,
        )
        if found:
            incident_id, rank = found
            incident = Incident(pk=incident_id)  # the lifecycle functions lock it by pk
            if severity.rank < rank:
                incident = incident_set_severity(incident=incident, severity=severity, via=self.via)
            return incident
        service = self.integration.service
        return incident_create(
            title=fold_lines(event.summary),  # a multi-line summary still opens the incident
            severity=severity,
            via=self.via,
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

    def resolve(self, event: AlertEvent) -> None:
        alert = self._firing(event)
        if alert is None:
            # Senders resolve what they never told us about, or twice: accepted, ignored.
            self.outcome.ignored += 1
            return
        alert.status = AlertStatus.RESOLVED
        alert.resolved_at = self.now
        alert.last_seen_at = self.now
        if event.raw:
            alert.last_payload = event.raw
        alert.save(update_fields=["status", "resolved_at", "last_seen_at", "last_payload"])
        self.outcome.resolved.append(alert.pk)
        # Locking the incident serializes the "was that the last firing alert?" question.
        incident = self._note_on_incident(
            alert,
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

    def _note_on_incident(self, alert: Alert, message: str, **facts) -> Incident | None:
        """Lock the alert's incident (if it has one) and note what happened to the alert."""
        if not alert.incident_id:
            return None
        self.outcome.incidents.add(alert.incident_id)
        incident = lock_existing(Incident(pk=alert.incident_id))
        timeline_record(
            incident=incident, kind=TimelineKind.ALERT, via=self.via, message=message, **facts
        )
        return incident

    def acknowledge(self, event: AlertEvent) -> None:
        alert = self._firing(event)
        if alert is None:
            self.outcome.ignored += 1
            return
        if alert.acknowledged_at is not None:
            return
        alert.acknowledged_at = self.now
        alert.save(update_fields=["acknowledged_at"])
        self.outcome.acknowledged.append(alert.pk)
        incident = self._note_on_incident(
            alert,
            f"Alert acknowledged by the sender: {alert.summary}",
            after=_alert_facts(alert.pk, alert, "acknowledged"),
        )
        if incident is not None and incident.status == IncidentStatus.TRIGGERED:
            incident_acknowledge(incident=incident, via=self.via)


def _alert_facts(alert_id: int, alert, status: str) -> dict:
    return {"alert": alert_id, "dedup_key": alert.dedup_key, "status": status}


def _open_incident_of(
    *, integration_id: int, exclude_alert_id: int, group_key: str, dedup_key: str
) -> tuple[int, int] | None:
    """(id, severity rank) of the open incident of the newest other alert of the same group
    (or, without a group, the same key), if any. Plain SQL: it runs for every new alert."""
    alert = connection.ops.quote_name(Alert._meta.db_table)
    incident = connection.ops.quote_name(Incident._meta.db_table)
    severity = connection.ops.quote_name(Severity._meta.db_table)
    column = "group_key" if group_key else "dedup_key"
    sql = f"""
        SELECT i.id, s.rank FROM {alert} a
        JOIN {incident} i ON i.id = a.incident_id
        JOIN {severity} s ON s.id = i.severity_id
        WHERE a.integration_id = %s AND a.{column} = %s AND a.id <> %s AND i.status <> %s
        ORDER BY a.id DESC LIMIT 1
    """
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [integration_id, group_key or dedup_key, exclude_alert_id, IncidentStatus.RESOLVED],
        )
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


def _upsert_firing(
    integration: Integration, event: AlertEvent, now: datetime
) -> tuple[int, bool, int | None]:
    """Insert the firing alert, or count a repeat of the one already firing, in one statement.

    ON CONFLICT on the conditional unique index makes concurrent first sightings safe: one
    insert wins, the others wait for it to commit and become repeats. Returns (alert id,
    whether it was inserted, its incident id). PostgreSQL and SQLite share this syntax.
    """
    table = connection.ops.quote_name(Alert._meta.db_table)
    jsonb = "::jsonb" if connection.vendor == "postgresql" else ""
    at = connection.ops.adapt_datetimefield_value(now)
    sql = f"""
        INSERT INTO {table} AS a (
            integration_id, dedup_key, status, summary, severity, labels, annotations,
            source, link, group_key, first_seen_at, last_seen_at, count, last_payload
        )
        VALUES (%s, %s, 'firing', %s, %s, %s{jsonb}, %s{jsonb}, %s, %s, %s, %s, %s, 1, %s{jsonb})
        ON CONFLICT (integration_id, dedup_key) WHERE status = 'firing'
        DO UPDATE SET
            count = a.count + 1,
            last_seen_at = EXCLUDED.last_seen_at,
            summary = EXCLUDED.summary,
            severity = EXCLUDED.severity,
            labels = EXCLUDED.labels,
            annotations = EXCLUDED.annotations,
            source = EXCLUDED.source,
            link = EXCLUDED.link,
            last_payload = EXCLUDED.last_payload
        RETURNING id, count, incident_id
    """
    params = [
        integration.pk,
        event.dedup_key,
        event.summary,
        event.severity[:64],
        _json(event.labels),
        _json(event.annotations),
        event.source[:255],
        event.link[:2048],
        event.group_key[:255],
        at,
        at,
        _json(event.raw),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        alert_id, count, incident_id = cursor.fetchone()
    # A fresh row starts at 1; a repeat has been incremented past it.
    return alert_id, count == 1, incident_id


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
