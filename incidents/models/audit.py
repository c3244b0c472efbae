"""The configuration audit log: one row per change of a service, schedule, policy, route,
integration, contact method or channel, written by the domain function that made the change."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone


class ChangeAction(models.TextChoices):
    ADDED = "added", "Added"
    CHANGED = "changed", "Changed"
    DELETED = "deleted", "Deleted"


class ConfigChange(models.Model):
    """Who changed which object when, and its fields before and after (only those that moved).

    Secrets never land here: addresses are stored masked, tokens not at all. `actor_label`
    keeps the name when the user is deleted, and names non-user actors ("system").
    """

    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    action = models.CharField(max_length=8, choices=ChangeAction.choices)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "audit record"
        verbose_name_plural = "audit log"
        indexes = [
            models.Index(fields=["-at", "-id"], name="config_change_newest"),
            models.Index(fields=["content_type", "object_id", "-at"], name="config_change_object"),
            models.Index(fields=["actor", "-at"], name="config_change_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_repr}"
