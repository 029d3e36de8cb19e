from django.apps import AppConfig


class InterventionsConfig(AppConfig):
    name = "interventions"

    def ready(self) -> None:
        # the readiness page lives in predictions, which must not import this app: it offers a registry instead
        from predictions.readiness import register_check

        from .readiness import uplift_check

        register_check("uplift", uplift_check)
