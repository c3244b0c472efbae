"""Prefilled message texts from the team runbooks' communication templates (templates/messages/)."""

from datetime import timedelta

from django.template.loader import render_to_string
from django.utils import timezone

from incidents.core.choices import UpdateStatus
from incidents.models import Incident


def slack_escape(text: str) -> str:
    """Text made inert for Slack-style markup: `&`, `<` and `>` become entities, so neither
    `<!channel>` pings a channel nor `<https://evil|Acknowledge>` disguises a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def humanize_duration(delta: timedelta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 60 * 24)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days}d"] if days else []
    if hours:
        parts.append(f"{hours}h")
    if minutes or not parts:
        parts.append(f"{minutes}m")
    return " ".join(parts)


def status_update_template(*, incident: Incident, status: str, public: bool) -> str:
    """The text a status update of this phase starts from, filled in from the incident."""
    status = UpdateStatus(status)
    cadence = incident.severity.update_every
    now = timezone.now()
    # Customers read public names of public services only; staff read the internal names.
    if public:
        services = ", ".join(s.display_name for s in incident.services.all() if s.is_public)
    else:
        services = ", ".join(s.name for s in incident.services.all())
    context = {
        "incident": incident,
        "public": public,
        "what": f"problems with {services}" if services else _neutral_what(public, incident),
        "next_update": now + cadence if cadence and status != UpdateStatus.RESOLVED else None,
        "duration": humanize_duration(incident.age(now)),
    }
    return render_to_string(f"messages/updates/{status}.txt", context).strip()


def _neutral_what(public: bool, incident: Incident) -> str:
    return "problems with our service" if public else incident.title.lower()
