from tests.factories import OrderFactory, OrderLineFactory, ProductFactory, SessionFactory
from tests.scoping import UrlSpec


def _order_in(region, category: str) -> None:
    order = OrderFactory(customer__region=region, region=region)
    OrderLineFactory(order=order, product=ProductFactory(category=category))


def _insights(world):
    _order_in(world.region_a, "marker-own-category")
    _order_in(world.region_b, "marker-foreign-category")
    return "marker-own-category", "marker-foreign-category"


def _executive(world):
    SessionFactory(region=world.region_a, converted=True)
    SessionFactory(region=world.region_b, converted=False)
    return world.region_a.name, None


SPECS = {
    "portal:insights": UrlSpec("list", seed=_insights),
    "portal:executive": UrlSpec("list", seed=_executive, roles={"Executive", "Admin"}, denied_status=403),
}
