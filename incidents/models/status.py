import secrets

from django.db import models
from django.db.models import Q


def _token() -> str:
    return secrets.token_urlsafe(24)


class SubscriberQuerySet(models.QuerySet):
    def confirmed(self):
        return self.filter(confirmed_at__isnull=False, unsubscribed_at__isnull=True)

    def for_services(self, service_ids):
        """Confirmed subscribers of any of these services, or of every service (none chosen)."""
        return (
            self.confirmed()
            .filter(Q(services__in=service_ids) | Q(services__isnull=True))
            .distinct()
        )


class Subscriber(models.Model):
    """Someone who asked for email about public updates (double opt-in, one-click out)."""

    email = models.EmailField(unique=True)
    services = models.ManyToManyField(
        "incidents.Service",
        blank=True,
        related_name="subscribers",
        help_text="Leave empty for every public service.",
    )
    token = models.CharField(max_length=64, unique=True, default=_token, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    objects = SubscriberQuerySet.as_manager()

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None
