from django.apps import AppConfig


class PostmortemsConfig(AppConfig):
    name = "postmortems"
    verbose_name = "Post-mortems"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from incidents.core import hooks
        from postmortems.demo import seed_postmortems
        from postmortems.services import draft_on_resolve

        hooks.register(hooks.INCIDENT_STATUS_CHANGED, draft_on_resolve)
        hooks.provide(hooks.DEMO_DATA, seed_postmortems)
