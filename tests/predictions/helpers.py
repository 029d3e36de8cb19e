"""Shared set-up for the prediction tests: many customers fast, and a small real model registered and active."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pandas as pd
from django.utils import timezone
from sklearn.linear_model import LogisticRegression

from cartportal.access import SystemActor
from cartportal.models import Customer, Order, Region, Session
from predictions import registry
from predictions.scoring.features import CUSTOMER_FEATURES
from predictions.scoring.scorers import ClassifierScorer

ACTOR = SystemActor("command:test")


def many_customers(regions: list[Region], count: int, *, prefix: str = "K", with_orders: int = 0) -> None:
    """`count` customers spread over `regions`; the first `with_orders` of them get one or two orders."""
    now = timezone.now()
    Customer.objects.bulk_create(
        (
            Customer(
                external_id=f"{prefix}{i:07d}",
                region=regions[i % len(regions)],
                first_seen=now - dt.timedelta(days=30 + i % 400),
            )
            for i in range(count)
        ),
        batch_size=5000,
    )
    if with_orders:
        rng = random.Random(7)
        customers = list(Customer.objects.filter(external_id__startswith=prefix).order_by("pk")[:with_orders])
        Order.objects.bulk_create(
            (
                Order(
                    external_id=f"{prefix}O{c.pk}-{k}",
                    customer=c,
                    region_id=c.region_id,
                    placed_at=now - dt.timedelta(days=rng.randint(1, 300)),
                    total=rng.randint(5, 200),
                )
                for c in customers
                for k in range(1 + c.pk % 2)
            ),
            batch_size=5000,
        )


def small_scorer(seed: int = 0) -> ClassifierScorer:
    """A logistic regression fitted on synthetic feature rows (a real fitted model, just a small one)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, len(CUSTOMER_FEATURES)))
    y = (x[:, 1] + 0.5 * rng.normal(size=400) > 0).astype(int)
    return ClassifierScorer(estimator=LogisticRegression().fit(x, y), features=list(CUSTOMER_FEATURES))


def active_model(kind: str = "abandonment", *, auc: float = 0.8, fingerprint: str = "h1", seed: int = 0):
    version = registry.register_candidate(
        actor=ACTOR,
        kind=kind,
        algorithm="logistic_regression",
        model_object=small_scorer(seed),
        features=list(CUSTOMER_FEATURES),
        metrics={"roc_auc": auc, "baseline": {"name": "logistic regression", "roc_auc": 0.5}},
        holdout={"fingerprint": fingerprint},
        card={"intended_use": "tests"},
    )
    registry.promote_if_better(actor=ACTOR, version=version, metric="roc_auc")
    version.refresh_from_db()
    return version


MONTHS = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May June Jul Aug Sep Oct Nov Dec".split())}
COLUMNS = {
    "Administrative": "administrative_pages",
    "Administrative_Duration": "administrative_duration",
    "Informational": "informational_pages",
    "Informational_Duration": "informational_duration",
    "ProductRelated": "product_pages",
    "ProductRelated_Duration": "product_duration",
    "BounceRates": "bounce_rate",
    "ExitRates": "exit_rate",
    "PageValues": "page_value",
    "SpecialDay": "special_day",
    "OperatingSystems": "operating_system",
    "Browser": "browser",
    "TrafficType": "traffic_source",
    "VisitorType": "visitor_type",
    "Weekend": "weekend",
}


def shopper_rows(data_dir, n: int, seed: int = 1) -> pd.DataFrame:
    raw = pd.read_csv(data_dir / "online_shoppers_intention.csv").sample(n=n, random_state=seed)
    frame = raw.rename(columns=COLUMNS)
    frame["month"] = raw["Month"].map(MONTHS)
    frame["converted"] = raw["Revenue"].astype(bool)
    frame["region"] = "r" + raw["Region"].astype(str)
    return frame.reset_index(drop=True)


TEXT_FIELDS = {"weekend", "operating_system", "browser", "traffic_source", "visitor_type"}


def shopper_session(r, **fields) -> Session:
    """An unsaved Session from one row of shopper_rows (pages, durations, rates, context and outcome)."""
    return Session(
        month=int(r.month),
        weekend=bool(r.weekend),
        operating_system=str(r.operating_system),
        browser=str(r.browser),
        traffic_source=str(r.traffic_source),
        visitor_type=str(r.visitor_type),
        converted=bool(r.converted),
        **{c: getattr(r, c) for c in COLUMNS.values() if c not in TEXT_FIELDS},
        **fields,
    )


def activate_fitted_recommender():
    """Fit the recommender (default settings, bought-together counts) on the purchases in the database and make it
    the active recommendation version; returns the fitted model."""
    from predictions.models import Kind
    from predictions.recommend.model import Params
    from predictions.recommend.selectors import purchases_unchecked
    from predictions.recommend.train import fit

    purchases = purchases_unchecked()
    fitted = fit(purchases, purchases["at"].max() + pd.Timedelta(seconds=1), Params(), baskets=True)
    version = registry.register_candidate(
        actor=ACTOR,
        kind=Kind.RECOMMENDATION,
        algorithm="BM25 item-item + implicit ALS + popularity",
        model_object=fitted,
        features=[],
        metrics={},
        holdout={},
    )
    registry.activate(actor=ACTOR, version=version, reason="fitted for this test")
    return fitted
