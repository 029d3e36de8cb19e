from cartportal.access import SystemActor
from cartportal.models import JobRun, Session
from tests.factories import CustomerFactory
from tests.scoping import UrlSpec

ACTOR = SystemActor("command:test")


def _version(kind="value", algorithm="marker-algorithm"):
    from predictions import registry

    return registry.register_candidate(
        actor=ACTOR,
        kind=kind,
        algorithm=algorithm,
        model_object={"weights": [1, 2]},
        features=["orders"],
        metrics={
            "top_decile_lift": 2.0,
            "poisson_deviance": 1.0,
            "roc_auc": 0.8,
            "baseline": {"name": "same as last period", "poisson_deviance": 2.0, "roc_auc": 0.5},
        },
        holdout={"fingerprint": "f1"},
    )


def _models(world):
    """Model versions are global (every logged-in user reads them): no region marker to check."""
    _version()
    return None, None


def _model(world, region):
    return {"pk": _version().pk}


def _clv(world):
    CustomerFactory(region=world.region_a, acquisition_source="marker-source-north")
    CustomerFactory(region=world.region_b, acquisition_source="marker-source-south")
    return "marker-source-north", "marker-source-south"


def _snapshot():
    from predictions.models import ModelVersion, ScoringRun

    return (
        sorted(ModelVersion.objects.values_list("pk", "status")),
        ScoringRun.objects.count(),
        JobRun.objects.count(),
    )


def _post_activate(world, region):
    from predictions import registry

    registry.promote_if_better(actor=ACTOR, version=_version(), metric="poisson_deviance", higher_is_better=False)
    return {"pk": _version().pk}, {"reason": "try"}, _snapshot


def _post_kind(world, region):
    from predictions import registry

    registry.promote_if_better(actor=ACTOR, version=_version(), metric="poisson_deviance", higher_is_better=False)
    return {"kind": "value"}, {}, _snapshot


def _post_spec(post, make):
    return UrlSpec("global", make=make, get_status=405, post=post)


def _abandonment_sessions(world):
    """An open cart in each region (the At risk now list shows open carts only)."""
    from django.utils import timezone

    from cartportal.models import CartEvent, Product

    product = Product.objects.create(sku="marker-sku", name="Marker", price=10)
    for name, region in (("marker-own-session", world.region_a), ("marker-foreign-session", world.region_b)):
        session = Session.objects.create(external_id=name, region=region, started_at=timezone.now())
        CartEvent.objects.create(
            session=session, region=region, product=product, kind="add", unit_price=10, occurred_at=timezone.now()
        )
    return "marker-own-session", "marker-foreign-session"


def _abandonment_session(world, region):
    return {"pk": Session.objects.create(external_id=f"s-{region.code}", region=region).pk}


def _readiness(world):
    """Region A has 3 buyers, region B 5: each manager must see only their own count."""
    from tests.factories import OrderFactory

    for region, buyers in ((world.region_a, 3), (world.region_b, 5)):
        for _ in range(buyers):
            OrderFactory(customer=CustomerFactory(region=region), region=region)
    return "has 3 customers over 0 days", "has 5 customers over 0 days"


SPECS = {
    "predictions:readiness": UrlSpec("list", seed=_readiness),
    "predictions:models": UrlSpec("list", seed=_models),
    "predictions:model": UrlSpec("global", make=_model),
    "predictions:clv": UrlSpec("list", seed=_clv),
    "predictions:model-activate": _post_spec(_post_activate, _model),
    "predictions:model-rollback": _post_spec(_post_kind, lambda world, region: {"kind": "value"}),
    "predictions:rescore": _post_spec(_post_kind, lambda world, region: {"kind": "value"}),
    "predictions:retrain": _post_spec(_post_kind, lambda world, region: {"kind": "value"}),
    "predictions:abandonment": UrlSpec("list", seed=_abandonment_sessions),
    "predictions:abandonment_session": UrlSpec("object", make=_abandonment_session),
}
