"""Integrations: a token bucket (per second, with a burst) instead of the per-minute window
counted in the row on every request."""

from django.db import migrations, models
from django.db.models import Case, F, Value, When
from django.db.models.functions import Greatest


def per_minute_to_per_second(apps, schema_editor):
    Integration = apps.get_model("incidents", "Integration")
    Integration.objects.update(
        rate_limit_per_second=Case(
            When(rate_limit_per_minute__gt=0, then=Greatest(F("rate_limit_per_minute") / 60, 1)),
            default=Value(0),
        )
    )


def per_second_to_per_minute(apps, schema_editor):
    Integration = apps.get_model("incidents", "Integration")
    Integration.objects.update(rate_limit_per_minute=F("rate_limit_per_second") * 60)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0018_ingest_inbox"),
    ]

    operations = [
        migrations.AddField(
            model_name="integration",
            name="rate_limit_per_second",
            field=models.PositiveIntegerField(
                default=100,
                help_text="Requests accepted per second, on average; 0 for no limit.",
            ),
        ),
        migrations.AddField(
            model_name="integration",
            name="rate_limit_burst",
            field=models.PositiveIntegerField(
                default=1000,
                help_text="Requests accepted at once above the average, saved up while quiet; "
                "0 for no limit.",
            ),
        ),
        migrations.RunPython(per_minute_to_per_second, per_second_to_per_minute),
        migrations.RemoveField(model_name="integration", name="rate_limit_per_minute"),
        migrations.RemoveField(model_name="integration", name="rate_window_start"),
        migrations.RemoveField(model_name="integration", name="rate_window_count"),
    ]
