"""Per-segment scores of an audience strategy and the analyst-weighted overall score.

- conversion potential: the mean published abandonment-model purchase probability of the segment's customers
  when the predictions app has published scores; otherwise from history: the share of the segment that bought
  within the dormancy window.
- measured lift: the holdout-based conversion lift the interventions app measured for this segment's campaigns in
  the region, else the region's pooled measured campaign lift; None ("no measurement") while nothing is measured.
  Never simulated.
- size (share of the universe), profitability (the mean of the customers' profitability field: gross margin where
  product costs are imported, else net spend; ``profitability_basis`` says which), strategic fit (analyst-set per
  rule). Engagement (shown, not weighted) is the mean engagement score.
Each component is scaled to 0..1 across the strategy's segments (min-max; a single segment scores 1), and the
overall score is the weighted mean of the available components (a missing lift drops out of that segment's mean).
"""

from __future__ import annotations

import pandas as pd
from django.conf import settings

from cartportal import extensions

COMPONENTS = ["conversion_potential", "measured_lift", "size", "profitability", "strategic_fit"]
DEFAULT_WEIGHTS = {
    "conversion_potential": 0.3,
    "measured_lift": 0.2,
    "size": 0.15,
    "profitability": 0.25,
    "strategic_fit": 0.1,
}


def parse_weights(raw: dict | None) -> dict[str, float]:
    from segments.audiences.rules import RuleError

    weights = dict(DEFAULT_WEIGHTS)
    for key, value in (raw or {}).items():
        if key not in COMPONENTS:
            raise RuleError(f"unknown weight {key!r}; use {', '.join(COMPONENTS)}")
        try:
            weights[key] = float(value)
        except (TypeError, ValueError) as error:
            raise RuleError(f"weight {key} must be a number") from error
        if weights[key] < 0:
            raise RuleError(f"weight {key} must not be negative")
    if sum(weights.values()) <= 0:
        raise RuleError("at least one weight must be positive")
    return weights


def published_conversion(customer_ids: list[int]) -> dict[int, float] | None:
    """Customer id -> published probability of buying again (the value run's p_active), or None while no value
    run has scored any of them."""
    from predictions.selectors import published_purchase_probability

    return published_purchase_probability(customer_ids) or None


def measured_lift(region_id: int, segment: str) -> float | None:
    """The conversion lift measured against a holdout for this segment in this region (its campaigns targeted the
    segment), else the region's pooled measured campaign lift, or None while nothing is measured. The
    interventions app answers through `cartportal.extensions.segment_lift`."""
    answer = extensions.segment_lift(region_id, segment)
    return None if answer is None else float(answer)


def _scaled(values: pd.Series) -> pd.Series:
    present = values.dropna()
    if present.empty:
        return values
    low, high = present.min(), present.max()
    if high == low:
        return values.where(values.isna(), 1.0)
    return (values - low) / (high - low)


def score_segments(
    universe: pd.DataFrame,
    labels: pd.Series,
    order: list[str],
    fits: dict[str, float],
    weights: dict[str, float],
    region_id: int,
) -> list[dict]:
    dormant_days = int(getattr(settings, "CARTPORTAL_DORMANT_DAYS", 90))
    probability = published_conversion([int(i) for i in universe.index])
    frame = universe.assign(segment=labels)
    frame["recent"] = pd.to_numeric(frame["recency_days"], errors="coerce") <= dormant_days
    if probability is not None:
        frame["p"] = frame.index.map(probability)
    # frames built before the audience fields existed carry RFM only
    profit = "profitability" if "profitability" in frame else "monetary"
    engage = "engagement_score" if "engagement_score" in frame else "frequency"
    basis = str(frame["profitability_basis"].iloc[0]) if "profitability_basis" in frame and len(frame) else "revenue"
    rows = []
    total = max(len(frame), 1)
    for name in order:
        part = frame[frame["segment"] == name]
        conversion = (
            float(part["p"].mean())
            if probability is not None and len(part)
            else float(part["recent"].mean())
            if len(part)
            else None
        )
        rows.append(
            {
                "segment": name,
                "size": len(part),
                "share": len(part) / total,
                "conversion_potential": conversion,
                "conversion_source": "published scores" if probability is not None else "history",
                "measured_lift": measured_lift(region_id, name),
                "profitability": float(part[profit].astype(float).mean()) if len(part) else 0.0,
                "profitability_basis": basis,
                "engagement": float(part[engage].astype(float).mean()) if len(part) else 0.0,
                "strategic_fit": fits.get(name, 0.5),
            }
        )
    table = pd.DataFrame(rows)
    scaled = pd.DataFrame(
        {
            "conversion_potential": _scaled(table["conversion_potential"].astype(float)),
            "measured_lift": _scaled(table["measured_lift"].astype(float)),
            "size": _scaled(table["share"].astype(float)),
            "profitability": _scaled(table["profitability"].astype(float)),
            "strategic_fit": table["strategic_fit"].astype(float),
        }
    )
    for i, row in enumerate(rows):
        available = {k: scaled.loc[i, k] for k in COMPONENTS if pd.notna(scaled.loc[i, k])}
        weight = sum(weights[k] for k in available)
        row["overall"] = round(sum(weights[k] * v for k, v in available.items()) / weight, 4) if weight else None
    return rows
