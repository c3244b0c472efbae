from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate


def _resync_staff_groups(sender, using="default", apps=global_apps, **kwargs):
    """Grant the staff groups the permissions of every model migrated so far.

    Runs once per migrate (sent for this app), after creating the permissions of all apps, since
    auth's own receiver may not have reached the apps listed after this one yet.
    """
    from django.contrib.auth.management import create_permissions

    from incidents.core.permissions import sync_staff_groups

    try:
        group_model = apps.get_model("auth", "Group")
        permission_model = apps.get_model("auth", "Permission")
    except LookupError:
        return
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using, apps=apps)
    sync_staff_groups(group_model, permission_model, using=using)


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from incidents.core import checks  # noqa: F401  (registers the system checks)

        post_migrate.connect(
            _resync_staff_groups, sender=self, dispatch_uid="incidents.resync_staff_groups"
        )
        from incidents.paging import engine, fallback
        from incidents.statuspage import hooks as statuspage_hooks

        # Hooks and providers are registered here and nowhere else (incidents.core.hooks); the
        # escalation's own come first, and are required.
        engine.register_hooks()
        fallback.register_hooks()
        statuspage_hooks.register_hooks()
