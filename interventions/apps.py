from django.apps import AppConfig


class InterventionsConfig(AppConfig):
    name = "interventions"

    def ready(self) -> None:
        # predictions proposes an intervention for each open cart through this registry (it may not import us)
        from interventions.cart_actions import propose_for_cart
        from predictions.abandonment.cart import proposals

        proposals.register(propose_for_cart)
