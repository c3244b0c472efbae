"""Default severities, taken from the team runbooks Tocsin was written for (P0 critical ... P3 low).

Where the runbooks disagree we keep the stricter paging target and the runbooks' stated goals:
P0 acknowledged within 15 minutes, resolved within an hour, updates every 30 minutes, a
post-mortem within 24 hours; P1 within 1 hour / 4 hours, hourly updates, post-mortem in 48 h.
"""

from datetime import timedelta

DEFAULT_SEVERITIES = [
    {
        "key": "P0",
        "name": "Critical",
        "rank": 0,
        "color": "#b91c1c",
        "description": "Production down: complete outage, payments broken, data loss or a "
        "security breach. More than half of users cannot use core functionality.",
        "acknowledge_within": timedelta(minutes=15),
        "resolve_within": timedelta(hours=1),
        "update_every": timedelta(minutes=30),
        "pages": True,
        "postmortem": "required",
        "postmortem_due_within": timedelta(hours=24),
    },
    {
        "key": "P1",
        "name": "High",
        "rank": 1,
        "color": "#c2410c",
        "description": "Degraded service: a critical feature broken for a subset of users, "
        "error rate above 5%, payments slow, database very slow.",
        "acknowledge_within": timedelta(hours=1),
        "resolve_within": timedelta(hours=4),
        "update_every": timedelta(hours=1),
        "pages": True,
        "postmortem": "required",
        "postmortem_due_within": timedelta(hours=48),
    },
    {
        "key": "P2",
        "name": "Medium",
        "rank": 2,
        "color": "#b45309",
        "description": "Non-critical issue: error rate 1-5%, a non-core feature broken, "
        "performance degraded but acceptable; a workaround exists.",
        "acknowledge_within": timedelta(hours=4),
        "resolve_within": timedelta(hours=24),
        "update_every": None,
        "pages": False,
        "postmortem": "optional",
        "postmortem_due_within": timedelta(days=7),
    },
    {
        "key": "P3",
        "name": "Low",
        "rank": 3,
        "color": "#4b5563",
        "description": "Minor issue: a new low-volume error, a cosmetic bug, a non-production "
        "problem. Fixed during normal working hours.",
        "acknowledge_within": timedelta(hours=24),
        "resolve_within": timedelta(days=7),
        "update_every": None,
        "pages": False,
        "postmortem": "none",
        "postmortem_due_within": None,
    },
]


def ensure_default_severities(severity_model) -> None:
    """Create the default levels that are missing; never overwrite a team's edits."""
    for row in DEFAULT_SEVERITIES:
        values = dict(row)
        severity_model.objects.get_or_create(key=values.pop("key"), defaults=values)
