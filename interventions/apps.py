from django.apps import AppConfig


class InterventionsConfig(AppConfig):
    name = "interventions"

    def ready(self) -> None:
        """Fill the platform's extension points (lower layers ask them instead of importing this app)."""
        from cartportal import extensions
        from interventions import cart_actions, loaders, selectors

        # Content providers register themselves with `interventions.content` when imported.
        from interventions.delivery import providers  # noqa: F401
        from interventions.offers import assortment, pricing  # noqa: F401
        from interventions.winback import content  # noqa: F401
        from predictions.readiness import register_check

        from .readiness import uplift_check

        extensions.proposed_action.register(selectors.proposed_for)
        extensions.cart_action.register(cart_actions.propose_for_cart)
        extensions.segment_lift.register(selectors.measured_lift_of_segment)
        extensions.register_dataset_loader(loaders.HILLSTROM_FILE, loaders.load_hillstrom_counts)
        extensions.register_demo_builder(30, "interventions.demo.build_demo")
        # the readiness page lives in predictions, which must not import this app: it offers a registry instead;
        # live: outcomes are attributed to existing assignments in place, which the rollups' watermark does not see
        register_check("uplift", uplift_check, live=True)
        extensions.import_finished.connect(_attribute_after_import, dispatch_uid="interventions-attribute-after-import")


def _attribute_after_import(sender, **kwargs) -> None:
    """New orders or sessions may complete outcomes: attribute them on a worker once the import is committed."""
    from django.db import transaction

    from interventions.tasks import attribute_outcomes

    transaction.on_commit(lambda: attribute_outcomes.delay())
