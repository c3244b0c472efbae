"""On PostgreSQL, incident numbers come from a sequence: opening incidents concurrently no longer
waits on one counter row. Other databases keep the counter row (SQLite serializes writes anyway).
"""

from django.db import migrations

SEQUENCE = "incidents_incident_number_seq"


def create_sequence(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE} AS bigint MINVALUE 1")
        # Continue after every number already handed out, by the counter or by hand.
        cursor.execute(
            f"""
            SELECT setval('{SEQUENCE}', GREATEST(m, 1), m > 0) FROM (
                SELECT GREATEST(
                    (SELECT COALESCE(MAX(number), 0) FROM incidents_incident),
                    (SELECT COALESCE(MAX(value), 0) FROM incidents_incidentcounter)
                ) AS m
            ) AS highest
            """
        )


def drop_sequence(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(f"DROP SEQUENCE IF EXISTS {SEQUENCE}")


class Migration(migrations.Migration):
    dependencies = [("incidents", "0007_status_page")]

    operations = [migrations.RunPython(create_sequence, drop_sequence)]
