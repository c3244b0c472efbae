"""Staff groups Viewer, Responder and Incident manager (incidents.permissions.STAFF_GROUPS).

On a fresh database permissions are only created by post_migrate, after every migration has
run, so they are created here first. IncidentsConfig re-syncs the groups after each migrate,
which grants the permissions of models added by later migrations.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from incidents.core.permissions import STAFF_GROUPS, sync_staff_groups


def forwards(apps, schema_editor):
    using = schema_editor.connection.alias
    for app_config in apps.get_app_configs():
        # Historical app configs carry no models module, which create_permissions requires.
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
        app_config.models_module = None
    sync_staff_groups(
        apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"), using=using
    )


def backwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name__in=STAFF_GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [("incidents", "0002_default_severities")]

    operations = [migrations.RunPython(forwards, backwards)]
