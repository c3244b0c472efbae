"""Mask the credentials that alerts stored in their last payload before ingestion masked them
(PagerDuty routing keys are integration tokens)."""

from django.db import migrations

from incidents.alerts.credentials import without_credentials


def forwards(apps, schema_editor):
    Alert = apps.get_model("incidents", "Alert")
    alerts = Alert.objects.using(schema_editor.connection.alias)
    batch = []
    for alert in alerts.only("id", "last_payload").iterator(chunk_size=500):
        masked = without_credentials(alert.last_payload)
        if masked != alert.last_payload:
            alert.last_payload = masked
            batch.append(alert)
        if len(batch) >= 500:
            alerts.bulk_update(batch, ["last_payload"])
            batch = []
    if batch:
        alerts.bulk_update(batch, ["last_payload"])


class Migration(migrations.Migration):
    dependencies = [("incidents", "0010_default_policy_direct_pages")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
