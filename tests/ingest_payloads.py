"""Realistic payloads for the ingestion tests, shaped after each format's public documentation."""

import copy

AM_FIRING_AT = "2026-11-23T01:54:28.414119936Z"
GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def am_alert(
    name: str = "HighErrorRate",
    *,
    fingerprint: str = "4f3c5a9b1d2e6f70",
    status: str = "firing",
    severity: str = "critical",
    instance: str = "checkout-1:9100",
    summary: str | None = "Checkout 5xx rate above 5%",
    ends_at: str = GO_ZERO_TIME,
) -> dict:
    annotations = {"description": "5xx responses are 7.3% of checkout traffic."}
    if summary is not None:
        annotations["summary"] = summary
    return {
        "status": status,
        "labels": {
            "alertname": name,
            "service": "checkout",
            "severity": severity,
            "instance": instance,
            "job": "checkout",
        },
        "annotations": annotations,
        "startsAt": AM_FIRING_AT,
        "endsAt": ends_at,
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=rate%28http_5xx%5B5m%5D%29",
        "fingerprint": fingerprint,
    }


def am_notification(*alerts: dict, group: str = "HighErrorRate", truncated: int = 0) -> dict:
    alerts = list(alerts) or [am_alert()]
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "version": "4",
        "groupKey": f'{{}}/{{service="checkout"}}:{{alertname="{group}"}}',
        "truncatedAlerts": truncated,
        "status": "firing" if firing else "resolved",
        "receiver": "tocsin",
        "groupLabels": {"alertname": group},
        "commonLabels": {"alertname": group, "service": "checkout", "job": "checkout"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": copy.deepcopy(alerts),
    }


def grafana_notification(*, status: str = "firing", fingerprint: str = "c6eafc1e2b5a0c3d") -> dict:
    return {
        "receiver": "tocsin",
        "status": status,
        "orgId": 1,
        "alerts": [
            {
                "status": status,
                "labels": {
                    "alertname": "DiskAlmostFull",
                    "grafana_folder": "Infrastructure",
                    "instance": "db-1",
                    "severity": "warning",
                },
                "annotations": {"summary": "Disk on db-1 is 91% full"},
                "startsAt": "2026-11-23T01:50:00Z",
                "endsAt": GO_ZERO_TIME if status == "firing" else "2026-11-23T02:10:00Z",
                "generatorURL": "https://grafana.example/alerting/grafana/abc123/view",
                "fingerprint": fingerprint,
                "silenceURL": "https://grafana.example/alerting/silence/new?matcher=alertname%3DDiskAlmostFull",
                "dashboardURL": "https://grafana.example/d/node/node-exporter",
                "panelURL": "https://grafana.example/d/node/node-exporter?viewPanel=12",
                "values": {"B": 91.2, "C": 1},
                "valueString": "[ var='B' labels={instance=db-1} value=91.2 ]",
                "imageURL": "",
            }
        ],
        "groupLabels": {"alertname": "DiskAlmostFull"},
        "commonLabels": {"alertname": "DiskAlmostFull", "instance": "db-1"},
        "commonAnnotations": {"summary": "Disk on db-1 is 91% full"},
        "externalURL": "https://grafana.example/",
        "version": "1",
        "groupKey": '{}/{alertname="DiskAlmostFull"}:{alertname="DiskAlmostFull"}',
        "truncatedAlerts": 0,
        "title": "[FIRING:1] DiskAlmostFull Infrastructure (db-1)",
        "state": "alerting",
        "message": "**Firing**\n\nValue: B=91.2\nLabels:\n - alertname = DiskAlmostFull\n",
    }


def pd_trigger(routing_key: str, *, dedup_key: str | None = None, severity: str = "critical"):
    event = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "payload": {
            "summary": "DISK at 99% on machine prod-datapipe03.example.com",
            "timestamp": "2026-11-23T01:30:00.000+00:00",
            "severity": severity,
            "source": "prod-datapipe03.example.com",
            "component": "mysql",
            "group": "prod-datapipe",
            "class": "disk",
            "custom_details": {"free space": "1%", "ping time": "1500ms", "load avg": 0.75},
        },
        "client": "Sample Monitoring Service",
        "client_url": "https://monitoring.example.com",
        "links": [{"href": "https://example.com/", "text": "Link text"}],
        "images": [
            {
                "src": "https://www.pagerduty.com/wp-content/uploads/2016/05/pagerduty-logo-green.png",
                "href": "https://example.com/",
                "alt": "Example text",
            }
        ],
    }
    if dedup_key is not None:
        event["dedup_key"] = dedup_key
    return event


def pd_event(routing_key: str, action: str, dedup_key: str) -> dict:
    return {"routing_key": routing_key, "event_action": action, "dedup_key": dedup_key}


def opsgenie_create(*, alias: str = "life-is-too-short-for-no-alias", priority: str = "P1") -> dict:
    return {
        "message": "An example alert message",
        "alias": alias,
        "description": "Every alert needs a description",
        "responders": [{"id": "4513b7ea-3b91-438f-b7e4-e3e54af9147c", "type": "team"}],
        "visibleTo": [{"name": "rocket_team", "type": "team"}],
        "actions": ["Restart", "AnExampleAction"],
        "tags": ["OverwriteQuietHours", "Critical"],
        "details": {"key1": "value1", "key2": "value2"},
        "entity": "An example entity",
        "priority": priority,
    }
