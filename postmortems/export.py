"""A post-mortem as the team runbooks' Markdown template, and as HTML for the printable page."""

from datetime import UTC, timedelta

from django.db.models import Prefetch
from django.template.loader import render_to_string
from markdown_it import MarkdownIt

from incidents.core.markdown_images import refuse_remote_images
from incidents.core.timeline import actor_label
from postmortems.models import ActionItem, Postmortem

PLACEHOLDER = "_To be written._"


def export_queryset():
    """Everything the export reads, in a fixed number of queries."""
    return Postmortem.objects.select_related(
        "incident__severity", "incident__commander", "author", "root_cause_category"
    ).prefetch_related(
        "incident__services",
        Prefetch("action_items", queryset=ActionItem.objects.select_related("owner")),
    )


def format_duration(delta: timedelta | None) -> str:
    if delta is None:
        return "ongoing"
    minutes = max(int(delta.total_seconds() // 60), 0)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} hours {minutes} minutes"
    if hours:
        return f"{hours} hours"
    return f"{minutes} minutes"


def _section(text: str) -> str:
    return text.strip() or PLACEHOLDER


def _numbered(text: str) -> str:
    """Free text as a numbered list, one item per non-empty line (existing list marks kept)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return PLACEHOLDER
    if all(line[:1] in "-*" or line.split(".", 1)[0].isdigit() for line in lines):
        return "\n".join(lines)
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))


def _bullets(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return PLACEHOLDER
    return "\n".join(line if line[:1] in "-*" else f"- {line}" for line in lines)


def postmortem_markdown(postmortem: Postmortem) -> str:
    """The post-mortem in the team runbooks' template (templates/postmortems/export.md).

    The template is Markdown, not HTML: nothing is escaped, as a Markdown file would not be.
    Free-text sections are shaped here (placeholders, numbered and bulleted lists).
    """
    incident = postmortem.incident
    duration = (incident.resolved_at - incident.started_at) if incident.resolved_at else None
    items = [
        {
            "title": item.title,
            "owner": actor_label(item.owner) if item.owner_id else "Unassigned",
            "due": item.due_date.isoformat() if item.due_date else "none",
            "priority": item.get_priority_display(),
            "status": item.get_status_display(),
            "tracker_url": item.tracker_url,
        }
        for item in postmortem.action_items.all()
    ]
    context = {
        "postmortem": postmortem,
        "incident": incident,
        "day": f"{incident.started_at.astimezone(UTC):%Y-%m-%d}",
        "duration": format_duration(duration),
        "services": ", ".join(s.name for s in incident.services.all()) or "none",
        "author": actor_label(postmortem.author) if postmortem.author_id else "Unassigned",
        "category": (
            postmortem.root_cause_category.name if postmortem.root_cause_category_id else "-"
        ),
        "summary": _section(postmortem.summary),
        "timeline": _section(postmortem.timeline),
        "root_cause": _section(postmortem.root_cause),
        "contributing_factors": _numbered(postmortem.contributing_factors),
        "impact_users": _bullets(postmortem.impact_users),
        "impact_business": _bullets(postmortem.impact_business),
        "resolution": _section(postmortem.resolution),
        "went_well": _bullets(postmortem.went_well),
        "went_poorly": _bullets(postmortem.went_poorly),
        "prevention": _bullets(postmortem.prevention),
        "items": items,
    }
    return render_to_string("postmortems/export.md", context)


# Raw HTML in the source is shown as text, never rendered: post-mortems are written by many.
# Images on other hosts become links (see incidents.core.markdown_images).
_markdown = refuse_remote_images(MarkdownIt("commonmark", {"html": False}).enable("table"))


def postmortem_html(postmortem: Postmortem) -> str:
    return _markdown.render(postmortem_markdown(postmortem))


def markdown_filename(postmortem: Postmortem) -> str:
    """The team runbooks' naming: YYYY-MM-DD-incident-name.md."""
    from django.utils.text import slugify

    incident = postmortem.incident
    day = incident.started_at.astimezone(UTC).date().isoformat()
    return f"{day}-{slugify(incident.title)[:60] or incident.reference.lower()}.md"
