from django.apps import AppConfig


class InterventionsConfig(AppConfig):
    name = "interventions"

    def ready(self) -> None:
        # content providers register themselves with interventions.content on import
        from interventions.offers import assortment  # noqa: F401
