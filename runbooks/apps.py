from django.apps import AppConfig


class RunbooksConfig(AppConfig):
    name = "runbooks"
    verbose_name = "Runbooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from incidents.core import hooks
        from runbooks.demo import seed_runbooks
        from runbooks.matching import page_runbooks

        hooks.provide(hooks.PAGE_RUNBOOKS, page_runbooks)
        hooks.provide(hooks.DEMO_DATA, seed_runbooks)
