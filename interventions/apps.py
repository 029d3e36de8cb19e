from django.apps import AppConfig


class InterventionsConfig(AppConfig):
    name = "interventions"

    def ready(self) -> None:
        """Fill the platform's extension points (lower layers ask them instead of importing this app)."""
        from cartportal import extensions
        from interventions import cart_actions, loaders, selectors

        extensions.proposed_action.register(selectors.proposed_for)
        extensions.cart_action.register(cart_actions.propose_for_cart)
        extensions.segment_lift.register(selectors.measured_lift_of_segment)
        extensions.register_dataset_loader(loaders.HILLSTROM_FILE, loaders.load_hillstrom_counts)
        extensions.register_demo_builder(30, "interventions.demo.build_demo")
        # Content providers register themselves with `interventions.content` when imported.
        from interventions.offers import pricing  # noqa: F401
