"""Choice sets of the post-mortem app and its one transition map."""

from django.db import models


class PostmortemStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"


# The one place the post-mortem flow is written down. A published post-mortem can be taken
# back to draft when it turns out to be wrong (a reopened incident, a new finding).
POSTMORTEM_TRANSITIONS: dict[str, frozenset[str]] = {
    PostmortemStatus.DRAFT: frozenset({PostmortemStatus.IN_REVIEW}),
    PostmortemStatus.IN_REVIEW: frozenset({PostmortemStatus.DRAFT, PostmortemStatus.PUBLISHED}),
    PostmortemStatus.PUBLISHED: frozenset({PostmortemStatus.DRAFT}),
}


class ActionPriority(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class ActionStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    WONT_DO = "wont_do", "Won't do"


ACTION_OPEN_STATUSES = frozenset({ActionStatus.OPEN, ActionStatus.IN_PROGRESS})

# Root-cause categories seeded by the data migration; the team runbooks' incident log names most.
DEFAULT_ROOT_CAUSE_CATEGORIES = [
    "Deployment",
    "Configuration",
    "Capacity",
    "Dependency",
    "Database",
    "Code bug",
    "Rate limit",
    "Infrastructure",
]
