from django.apps import AppConfig


class InterventionsConfig(AppConfig):
    name = "interventions"

    def ready(self) -> None:
        # Content providers register themselves with `interventions.content` when imported.
        from interventions.offers import pricing  # noqa: F401
