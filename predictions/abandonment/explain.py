"""Per-prediction explanations: CatBoost SHAP values grouped into friction drivers, said in plain words."""

from __future__ import annotations

import numpy as np
import pandas as pd

from predictions.abandonment.features import DRIVER_LABELS, DRIVER_OF, DRIVERS, FEATURES

FEATURE_WORDS = {
    "cart_value": "a cart worth {value:.2f}",
    "max_price_increase": "a price {value:.0%} above what the product usually sells for",
    "price_increase_items": "{value:.0f} item(s) whose price went up",
    "customer_mean_freight_share": "freight at {value:.0%} of past order values",
    "customer_mean_delay_days": "past deliveries {value:+.1f} days against the promised date",
    "customer_late_share": "{value:.0%} of past deliveries late",
    "customer_orders_delivered": "{value:.0f} past delivered order(s)",
    "cart_review_rating": "products in the cart rated {value:.1f} stars",
    "cart_negative_review_share": "{value:.0%} negative reviews on a product in the cart",
    "cart_reviews": "{value:.0f} review(s) on the cart's products",
    "product_pages": "{value:.0f} product page(s) viewed",
    "log_product_duration": "time on product pages",
    "bounce_rate": "a bounce rate of {value:.0%}",
    "exit_rate": "an exit rate of {value:.0%}",
    "page_value": "a page value of {value:.1f}",
    "has_page_value": "whether a page with value was reached",
    "cart_adds": "{value:.0f} item(s) added to the cart",
    "cart_removes": "{value:.0f} item(s) removed from the cart",
    "checkouts": "{value:.0f} checkout step(s)",
    "customer_prior_orders": "{value:.0f} earlier order(s)",
    "customer_days_since_order": "{value:.0f} days since the last order",
    "visitor_type": "visitor type '{value}'",
    "traffic_source": "traffic source '{value}'",
    "month": "the month ({value:.0f})",
    "special_day": "closeness to a special day",
}


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + np.exp(-x))


def _describe(feature: str, value) -> str:
    template = FEATURE_WORDS.get(feature)
    if template is None:
        return f"{feature.replace('_', ' ')} ({value})" if isinstance(value, str) else feature.replace("_", " ")
    try:
        return template.format(value=value)
    except (ValueError, TypeError):
        return template.split("{")[0].strip() or feature.replace("_", " ")


def explain_rows(shap: np.ndarray, expected: float, frame: pd.DataFrame, top: int = 5) -> list[list[dict]]:
    """For each row: drivers sorted by impact, each with its effect in probability points and a sentence."""
    index = {name: i for i, name in enumerate(FEATURES)}
    explanations = []
    for row_number, (_, row) in enumerate(frame.iterrows()):
        contributions = shap[row_number]
        total = expected + contributions.sum()
        drivers = []
        for driver, names in DRIVERS.items():
            columns = [index[n] for n in names]
            log_odds = float(contributions[columns].sum())
            points = _sigmoid(total) - _sigmoid(total - log_odds)
            main = names[int(np.argmax(np.abs(contributions[columns])))]
            drivers.append(
                {
                    "driver": driver,
                    "label": DRIVER_LABELS[driver],
                    "effect": round(float(points), 4),
                    "log_odds": round(log_odds, 4),
                    "feature": main,
                    "sentence": _sentence(driver, main, row.get(main), points),
                }
            )
        drivers.sort(key=lambda d: -abs(d["effect"]))
        explanations.append(drivers[:top])
    return explanations


def _sentence(driver: str, feature: str, value, points: float) -> str:
    direction = "raises" if points >= 0 else "lowers"
    return (
        f"{DRIVER_LABELS[driver]}: {_describe(feature, value)} {direction} the risk of abandoning "
        f"by {abs(points) * 100:.1f} points."
    )


def drivers_by_group(shap: np.ndarray, frame: pd.DataFrame, group: str) -> pd.DataFrame:
    """Mean upward push (log-odds of abandoning, positive parts only) per driver for each value of ``group``."""
    per_driver = pd.DataFrame(
        {
            driver: shap[:, [FEATURES.index(n) for n in names]].sum(axis=1).clip(min=0)
            for driver, names in DRIVERS.items()
        },
        index=frame.index,
    )
    per_driver[group] = frame[group].to_numpy()
    return per_driver.groupby(group).mean()


__all__ = ["explain_rows", "drivers_by_group", "DRIVER_OF"]
