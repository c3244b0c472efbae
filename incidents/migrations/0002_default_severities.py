from django.db import migrations

from incidents.core.defaults import ensure_default_severities


def forwards(apps, schema_editor):
    ensure_default_severities(apps.get_model("incidents", "Severity"))


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
