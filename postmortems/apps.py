from django.apps import AppConfig


class PostmortemsConfig(AppConfig):
    name = "postmortems"
    verbose_name = "Post-mortems"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from incidents.core.lifecycle import on_incident_status_changed
        from postmortems.services import draft_on_resolve

        on_incident_status_changed(draft_on_resolve)
