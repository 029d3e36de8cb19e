from django.apps import AppConfig


class InterventionsConfig(AppConfig):
    name = "interventions"

    def ready(self) -> None:
        # Registering the content providers of this app's interventions with the content registry.
        from interventions.delivery import providers  # noqa: F401
