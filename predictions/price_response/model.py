"""Own-price elasticity from a price and quantity history: a log-log regression with product and period effects.

Model, per product i and period t (a week by default):

    log q_it = a_i + g_t + b_c(i) * log p_it + e_it

`a_i` (product effects) absorb what makes one product sell more than another at any price, `g_t` (period
effects) absorb seasonality and shop-wide demand moves, so `b_c` is learnt only from how a product's quantity
moves when its own price moves against its own usual level in the same period as everyone else. Both effects are
removed by alternating demeaning (the within transformation for two-way effects), then `b` comes from OLS on what
is left. Standard errors are clustered by product (a product's weeks are not independent draws), with the
small-sample factor G/(G-1), and the interval uses Student's t with G-1 degrees of freedom.

Per product, where the product has enough periods and its price moved enough, its own slope is fitted on its own
demeaned rows (same period effects), with a heteroskedasticity-robust (HC1) interval.

Only periods with a sale are observed (an order history does not record a price nobody paid), so a product that
sells a handful of units a week biases its slope towards zero; `min_quantity` leaves such product-periods out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

MIN_PERIODS = 3  # a product needs this many periods to say anything about its own price
MIN_PRICE_SPREAD = 0.02  # standard deviation of log price below which a product's price did not move
PRODUCT_MIN_PERIODS = 8
PRODUCT_MIN_SPREAD = 0.05
MIN_PRODUCTS_PER_CATEGORY = 3


class PriceResponseError(ValueError):
    """The history cannot give an elasticity; the message says why."""


@dataclass
class Elasticity:
    """One estimate: a category's (level "category") or one product's (level "product")."""

    level: str
    key: str
    category: str
    elasticity: float
    std_error: float
    ci_low: float
    ci_high: float
    observations: int
    products: int
    confidence: float

    def as_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def product_periods(lines: pd.DataFrame, *, period: str = "W-MON", min_quantity: float = 1.0) -> pd.DataFrame:
    """Order lines (product, category, at, quantity, unit_price) to one row per product and period: the quantity
    sold and the quantity-weighted mean price paid."""
    missing = {"product", "category", "at", "quantity", "unit_price"} - set(lines.columns)
    if missing:
        raise PriceResponseError(f"missing columns: {', '.join(sorted(missing))}")
    frame = lines[(lines["quantity"] > 0) & (lines["unit_price"] > 0)].dropna(subset=["product", "category", "at"])
    if frame.empty:
        raise PriceResponseError("no sold quantity with a positive price in the history")
    at = pd.to_datetime(frame["at"], utc=True).dt.tz_localize(None)
    frame = frame.assign(period=at.dt.to_period(period).dt.start_time, revenue=frame["quantity"] * frame["unit_price"])
    grouped = frame.groupby(["product", "category", "period"], as_index=False, observed=True).agg(
        quantity=("quantity", "sum"), revenue=("revenue", "sum")
    )
    grouped["price"] = grouped["revenue"] / grouped["quantity"]
    return grouped[grouped["quantity"] >= min_quantity].drop(columns="revenue").reset_index(drop=True)


def _demean_two_way(values: np.ndarray, groups: tuple[np.ndarray, np.ndarray], tol: float = 1e-10) -> np.ndarray:
    """Remove product and period means from each column, alternating until nothing changes (unbalanced panels
    need more than one pass)."""
    out = values.astype(float).copy()
    for _ in range(500):
        before = out.copy()
        for codes in groups:
            counts = np.bincount(codes)
            for j in range(out.shape[1]):
                out[:, j] -= (np.bincount(codes, weights=out[:, j]) / counts)[codes]
        if np.max(np.abs(out - before)) < tol:
            break
    return out


def _usable(panel: pd.DataFrame) -> pd.DataFrame:
    """Products with enough periods; categories with enough such products whose price moved."""
    panel = panel.assign(log_q=np.log(panel["quantity"]), log_p=np.log(panel["price"]))
    per_product = panel.groupby("product", observed=True).agg(n=("log_p", "size"), spread=("log_p", "std"))
    panel = panel[panel["product"].isin(per_product.index[per_product["n"] >= MIN_PERIODS])]
    moving = per_product.index[
        (per_product["n"] >= MIN_PERIODS) & (per_product["spread"].fillna(0) >= MIN_PRICE_SPREAD)
    ]
    moved = panel[panel["product"].isin(moving)].groupby("category", observed=True)["product"].nunique()
    categories = moved.index[moved >= MIN_PRODUCTS_PER_CATEGORY]
    return panel[panel["category"].isin(categories)].reset_index(drop=True)


def estimate(panel: pd.DataFrame, *, confidence: float = 0.95, per_product: bool = True) -> list[Elasticity]:
    """Category elasticities (and product ones where the data allow) from `product_periods` output."""
    panel = _usable(panel)
    if panel.empty:
        raise PriceResponseError(
            f"no category has {MIN_PRODUCTS_PER_CATEGORY} products sold in {MIN_PERIODS}+ periods whose price moved"
        )
    categories = sorted(panel["category"].unique())
    product_codes = pd.factorize(panel["product"])[0]
    period_codes = pd.factorize(panel["period"])[0]
    design = np.column_stack([panel["log_p"].where(panel["category"] == c, 0.0) for c in categories])
    demeaned = _demean_two_way(np.column_stack([panel["log_q"], design]), (product_codes, period_codes))
    y, X = demeaned[:, 0], demeaned[:, 1:]
    beta, se, dof = _clustered_ols(y, X, product_codes)
    t = stats.t.ppf(0.5 + confidence / 2, dof)
    found = [
        Elasticity(
            "category",
            c,
            c,
            float(beta[j]),
            float(se[j]),
            float(beta[j] - t * se[j]),
            float(beta[j] + t * se[j]),
            int((panel["category"] == c).sum()),
            int(panel.loc[panel["category"] == c, "product"].nunique()),
            confidence,
        )
        for j, c in enumerate(categories)
    ]
    if per_product:
        found += _product_slopes(panel, y, X.sum(axis=1), confidence)
    return found


def _clustered_ols(y: np.ndarray, X: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    xtx_inv = np.linalg.pinv(X.T @ X)
    beta = xtx_inv @ X.T @ y
    scores = X * (y - X @ beta)[:, None]
    per_cluster = np.zeros((clusters.max() + 1, X.shape[1]))
    np.add.at(per_cluster, clusters, scores)
    groups = len(np.unique(clusters))
    meat = per_cluster.T @ per_cluster * groups / max(groups - 1, 1)
    covariance = xtx_inv @ meat @ xtx_inv
    return beta, np.sqrt(np.clip(np.diag(covariance), 0, None)), max(groups - 1, 1)


def _product_slopes(panel: pd.DataFrame, y: np.ndarray, x: np.ndarray, confidence: float) -> list[Elasticity]:
    out = []
    for (product, category), rows in panel.groupby(["product", "category"], observed=True).indices.items():
        if len(rows) < PRODUCT_MIN_PERIODS or panel["log_p"].iloc[rows].std() < PRODUCT_MIN_SPREAD:
            continue
        xi, yi = x[rows] - x[rows].mean(), y[rows] - y[rows].mean()
        sxx = float(xi @ xi)
        if sxx <= 0:
            continue
        slope = float(xi @ yi) / sxx
        resid = yi - slope * xi
        n = len(rows)
        se = float(np.sqrt((xi**2 @ resid**2) / sxx**2 * n / max(n - 2, 1)))
        t = stats.t.ppf(0.5 + confidence / 2, max(n - 2, 1))
        out.append(
            Elasticity(
                "product",
                str(product),
                str(category),
                slope,
                se,
                float(slope - t * se),
                float(slope + t * se),
                n,
                1,
                confidence,
            )
        )
    return out
