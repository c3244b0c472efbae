"""A post-mortem as the team runbooks' Markdown template, and as HTML for the printable page."""

from datetime import UTC, timedelta

from django.db.models import Prefetch
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
    incident = postmortem.incident
    started = incident.started_at.astimezone(UTC)
    duration = (incident.resolved_at - incident.started_at) if incident.resolved_at else None
    author = actor_label(postmortem.author) if postmortem.author_id else "Unassigned"
    services = ", ".join(s.name for s in incident.services.all()) or "none"
    category = postmortem.root_cause_category.name if postmortem.root_cause_category_id else "-"

    items = []
    for i, item in enumerate(postmortem.action_items.all(), 1):
        owner = actor_label(item.owner) if item.owner_id else "Unassigned"
        due = item.due_date.isoformat() if item.due_date else "none"
        link = f" ({item.tracker_url})" if item.tracker_url else ""
        items.append(
            f"{i}. **{item.title}** - Assigned: {owner} - Due: {due} - "
            f"Priority: {item.get_priority_display()} - Status: {item.get_status_display()}{link}"
        )

    parts = [
        f"# Post-Mortem: {incident.title}",
        "",
        f"**Incident:** {incident.reference}  ",
        f"**Date:** {started:%Y-%m-%d}  ",
        f"**Severity:** {incident.severity.key}  ",
        f"**Duration:** {format_duration(duration)}  ",
        f"**Services:** {services}  ",
        f"**Affected Users:** {postmortem.affected_users or 'unknown'}  ",
        f"**Author:** {author}  ",
        f"**Status:** {postmortem.get_status_display()}",
        "",
        "## Summary",
        "",
        _section(postmortem.summary),
        "",
        "## Timeline (All times in UTC)",
        "",
        _section(postmortem.timeline),
        "",
        "## Root Cause",
        "",
        f"**Category:** {category}",
        "",
        _section(postmortem.root_cause),
        "",
        "**Contributing Factors:**",
        "",
        _numbered(postmortem.contributing_factors),
        "",
        "## Impact",
        "",
        "**User Impact:**",
        "",
        _bullets(postmortem.impact_users),
        "",
        "**Business Impact:**",
        "",
        _bullets(postmortem.impact_business),
        "",
        "## Resolution",
        "",
        _section(postmortem.resolution),
        "",
        "## Lessons Learned",
        "",
        "**What Went Well:**",
        "",
        _bullets(postmortem.went_well),
        "",
        "**What Went Poorly:**",
        "",
        _bullets(postmortem.went_poorly),
        "",
        "## Action Items",
        "",
        "\n".join(items) or "_None yet._",
        "",
        "## Prevention",
        "",
        _bullets(postmortem.prevention),
        "",
    ]
    return "\n".join(parts)


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
