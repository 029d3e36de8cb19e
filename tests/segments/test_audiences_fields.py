"""Audience rules over the marketers' fields (average order value, sessions in the last 30 days, items in the cart,
engagement score, profitability): every customer lands in exactly one segment, values exactly on a threshold
included, against an independent computation of each field; and the fields as computed from the database."""

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartportal.models import CartEvent, Order, OrderLine, Product, Session
from segments.audiences import fields
from segments.audiences.rules import OPERATORS, Rule, assign
from segments.services.audiences import audience_universe
from tests.segments.factories import profile

CATCH_ALL = "Everyone else"
THRESHOLDS = {
    "average_order_value": [0.0, 12.5, 25.0, 100.0],
    "sessions_30d": [0.0, 1.0, 4.0],
    "cart_items": [0.0, 1.0, 3.0],
    "engagement_score": [0.0, 33.3, 50.0, 66.7, 100.0],
    "profitability": [0.0, 50.0, 100.0],
}
# (monetary, frequency) pairs whose average order value is exactly a threshold, and some that are not
SPEND = st.sampled_from([(50.0, 2), (25.0, 1), (100.0, 4), (100.0, 1), (0.0, 0), (37.0, 3), (12.5, 1), (80.0, 0)])
customer = st.fixed_dictionaries(
    {
        "spend": SPEND,
        "sessions_30d": st.integers(0, 6),
        "cart_adds_30d": st.integers(0, 6),
        "orders_90d": st.integers(0, 5),
        "cart_items": st.integers(0, 5),
        "margin": st.sampled_from([0.0, 10.0, 25.0, 50.0]),
        "costed_share": st.sampled_from([0.0, 0.5, 1.0]),
    }
)
rule = st.tuples(
    st.sampled_from(sorted(THRESHOLDS)),
    st.sampled_from(list(OPERATORS)),
    st.data(),
)


def _raw(rows: list[dict], costs: bool) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "monetary": [r["spend"][0] for r in rows],
            "frequency": [r["spend"][1] for r in rows],
            "sessions_30d": [r["sessions_30d"] for r in rows],
            "cart_adds_30d": [r["cart_adds_30d"] for r in rows],
            "orders_90d": [r["orders_90d"] for r in rows],
            "cart_items": [r["cart_items"] for r in rows],
            "margin": [r["margin"] if costs else 0.0 for r in rows],
            "costed_revenue": [r["spend"][0] * r["costed_share"] if costs else 0.0 for r in rows],
        }
    )


def expected_fields(rows: list[dict], costs: bool) -> list[dict]:
    """The field definitions of the README, computed one customer at a time with exact fractions."""
    raw = _raw(rows, costs).to_dict("records")
    costed_total = sum(Fraction(r["costed_revenue"]) for r in raw)
    rate = sum(Fraction(r["margin"]) for r in raw) / costed_total if costed_total > 0 else None
    out = []
    for r in raw:
        parts = [min(Fraction(int(r[k]), full), 1) for k, full in [("sessions_30d", 4), ("cart_adds_30d", 4)]]
        parts.append(min(Fraction(int(r["orders_90d"]), 3), 1))
        spend = Fraction(r["monetary"])
        if rate is None:
            profit = spend
        else:
            profit = Fraction(r["margin"]) + max(spend - Fraction(r["costed_revenue"]), 0) * rate
        out.append(
            {
                "average_order_value": float(spend / int(r["frequency"])) if r["frequency"] > 0 else None,
                "sessions_30d": float(r["sessions_30d"]),
                "cart_items": float(r["cart_items"]),
                "engagement_score": round(float(sum(parts) * 100 / 3), 1),
                "profitability": round(float(profit), 2),
            }
        )
    return out


def reference_segment(values: dict, rules: list[Rule]) -> str:
    for r in rules:
        value = values[r.feature]
        if value is not None and OPERATORS[r.op](value, r.value):
            return r.name
    return CATCH_ALL


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(customer, max_size=30), raw_rules=st.lists(rule, max_size=5), costs=st.booleans())
def test_every_customer_in_exactly_one_segment_on_the_new_fields(rows, raw_rules, costs):
    derived, basis = fields.derive(_raw(rows, costs))
    rules = [
        Rule(f"S{i}", feature, op, data.draw(st.sampled_from(THRESHOLDS[feature])))
        for i, (feature, op, data) in enumerate(raw_rules)
    ]
    labels, _ = assign(derived, rules, CATCH_ALL)
    assert len(labels) == len(rows) and labels.notna().all()
    expected = expected_fields(rows, costs)
    for i, values in enumerate(expected):
        assert labels.iloc[i] == reference_segment(values, rules)
    costed = costs and any(r["costed_share"] > 0 and r["spend"][0] > 0 for r in rows)
    assert basis == (fields.MARGIN if costed else fields.REVENUE)


@pytest.mark.parametrize(
    "feature,values,threshold,labels",
    [
        ("average_order_value", [(49.98, 2), (50.0, 2), (50.02, 2)], 25.0, ["Low", "High", "High"]),
        ("engagement_score", [(2, 2, 0), (4, 0, 0), (4, 2, 0)], 50.0, ["Low", "Low", "High"]),
        ("sessions_30d", [3, 4, 5], 4.0, ["Low", "High", "High"]),
        ("cart_items", [2, 3, 4], 3.0, ["Low", "High", "High"]),
    ],
)
def test_value_exactly_on_a_threshold_goes_to_the_inclusive_rule(feature, values, threshold, labels):
    base = {"monetary": 0.0, "frequency": 0, "sessions_30d": 0, "cart_adds_30d": 0, "orders_90d": 0}
    base |= {"cart_items": 0, "margin": 0.0, "costed_revenue": 0.0}
    rows = []
    for v in values:
        row = dict(base)
        if feature == "average_order_value":
            row["monetary"], row["frequency"] = v
        elif feature == "engagement_score":
            row["sessions_30d"], row["cart_adds_30d"], row["orders_90d"] = v
        else:
            row[feature] = v
        rows.append(row)
    derived, _ = fields.derive(pd.DataFrame(rows))
    rules = [Rule("High", feature, ">=", threshold), Rule("Low", feature, "<", threshold)]
    assert assign(derived, rules, CATCH_ALL)[0].tolist() == labels


@pytest.mark.django_db
def test_fields_from_the_database(world):
    reference = dt.datetime(2026, 6, 30, 12, tzinfo=dt.UTC)
    p = profile(world.region_a, frequency=2, monetary=Decimal("90.00"), reference_at=reference)
    other = profile(world.region_a, frequency=0, monetary=0, reference_at=reference)
    c = p.customer
    for days in (30, 29, 1, -1):  # exactly 30 days before and after the reference are outside the window
        Session.objects.create(
            external_id=f"s{days}", customer=c, region=world.region_a, started_at=reference - dt.timedelta(days=days)
        )
    costed = Product.objects.create(sku="A", unit_cost=Decimal("6.00"))
    plain = Product.objects.create(sku="B")
    order = Order.objects.create(
        external_id="o1", customer=c, region=world.region_a, total=90, placed_at=reference - dt.timedelta(days=10)
    )
    OrderLine.objects.create(
        order=order,
        region=world.region_a,
        line_no=1,
        product=costed,
        sku="A",
        quantity=5,
        unit_price=Decimal("12"),
        amount=Decimal("60"),
    )
    OrderLine.objects.create(
        order=order,
        region=world.region_a,
        line_no=2,
        product=plain,
        sku="B",
        quantity=1,
        unit_price=Decimal("30"),
        amount=Decimal("30"),
    )
    events = [("add", 2, 5), ("purchase", 1, 4), ("add", 3, 3), ("remove", 1, 2), ("add", 1, 1), ("add", 9, -1)]
    for kind, quantity, days in events:
        CartEvent.objects.create(
            customer=c,
            region=world.region_a,
            kind=kind,
            quantity=quantity,
            occurred_at=reference - dt.timedelta(days=days),
        )
    frame = audience_universe(world.region_a.pk)
    row = frame.loc[c.pk]
    assert row["sessions_30d"] == 2
    assert row["cart_items"] == 3  # 3 added - 1 removed + 1 added since the purchase; later adds do not count
    assert row["average_order_value"] == 45.0
    # 2 sessions (of 4), 3 adds in the 30 days (of 4), 1 order in 90 days (of 3): (0.5 + 0.75 + 1/3) / 3
    assert row["engagement_score"] == 52.8
    # margin 60 - 5 x 6 = 30 on the costed line (rate 0.5); the 30 without a cost at that rate
    assert row["profitability"] == 45.0 and row["profitability_basis"] == fields.MARGIN
    assert pd.isna(frame.loc[other.customer.pk, "average_order_value"])
    assert frame.loc[other.customer.pk, "engagement_score"] == 0.0
    costed.unit_cost = None
    costed.save()
    revenue = audience_universe(world.region_a.pk)
    assert revenue.loc[c.pk, "profitability"] == 90.0 and revenue.loc[c.pk, "profitability_basis"] == fields.REVENUE
