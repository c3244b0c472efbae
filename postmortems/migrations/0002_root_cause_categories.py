from django.db import migrations


def seed_categories(apps, schema_editor):
    from postmortems.choices import DEFAULT_ROOT_CAUSE_CATEGORIES

    RootCauseCategory = apps.get_model("postmortems", "RootCauseCategory")
    for name in DEFAULT_ROOT_CAUSE_CATEGORIES:
        RootCauseCategory.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("postmortems", "0001_initial")]

    operations = [migrations.RunPython(seed_categories, migrations.RunPython.noop)]
