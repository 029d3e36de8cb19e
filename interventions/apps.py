from django.apps import AppConfig


class InterventionsConfig(AppConfig):
    name = "interventions"

    def ready(self) -> None:
        from cartportal.signals import import_finished

        # Registering the content providers of this app's interventions with the content registry.
        from interventions.delivery import providers  # noqa: F401

        import_finished.connect(_attribute_after_import, dispatch_uid="interventions-attribute-after-import")


def _attribute_after_import(sender, **kwargs) -> None:
    """New orders or sessions may complete outcomes: attribute them on a worker once the import is committed."""
    from django.db import transaction

    from interventions.tasks import attribute_outcomes

    transaction.on_commit(lambda: attribute_outcomes.delay())
