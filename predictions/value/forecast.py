"""Choose between BG/NBD + Gamma-Gamma and the window model on a time-based holdout, then forecast from the cut-off."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from predictions.value import transactions as tx
from predictions.value.btyd import BGNBD, GammaGamma, ParetoNBD
from predictions.value.ml import WindowModel

BTYD, PARETO, ML = "bgnbd_gamma_gamma", "pareto_nbd_gamma_gamma", "window_gbm"


def btyd_forecast(frame: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int, model_class=BGNBD) -> pd.DataFrame:
    summary = tx.rfm_summary(frame, cutoff)
    purchases_model = model_class().fit(summary)
    spend_model = GammaGamma().fit(summary)
    expected = purchases_model.expected_purchases(summary, horizon_days)
    return pd.DataFrame(
        {
            "p_active": purchases_model.p_alive(summary),
            "expected_purchases": expected,
            "expected_spend": expected * spend_model.expected_spend_per_purchase(summary),
        },
        index=summary.index,
    )


def ml_forecast(frame: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int) -> pd.DataFrame:
    return WindowModel(horizon_days).fit(frame, cutoff).predict(frame, cutoff)


def pareto_forecast(frame: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int) -> pd.DataFrame:
    return btyd_forecast(frame, cutoff, horizon_days, model_class=ParetoNBD)


FORECASTERS = {BTYD: btyd_forecast, PARETO: pareto_forecast, ML: ml_forecast}


def poisson_deviance(actual: np.ndarray, predicted: np.ndarray) -> float:
    predicted = np.clip(predicted, 1e-9, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(actual > 0, actual * np.log(actual / predicted), 0.0)
    return float(2 * np.mean(term - (actual - predicted)))


def evaluate(forecast: pd.DataFrame, actual: pd.DataFrame) -> dict:
    """Holdout figures: purchase totals, Poisson deviance, top-decile lift in purchases and revenue captured."""
    predicted = forecast["expected_purchases"].to_numpy()
    bought, spent = actual["purchases"].to_numpy(), actual["spend"].to_numpy()
    top = np.argsort(-forecast["expected_spend"].to_numpy(), kind="stable")[: max(1, len(forecast) // 10)]
    share_of_customers = len(top) / len(forecast)
    purchases_captured = bought[top].sum() / bought.sum() if bought.sum() else 0.0
    revenue_captured = spent[top].sum() / spent.sum() if spent.sum() else 0.0
    return {
        "customers": int(len(forecast)),
        "predicted_purchases": round(float(predicted.sum()), 1),
        "actual_purchases": int(bought.sum()),
        "purchase_count_error": round(float(predicted.sum() / bought.sum() - 1), 4) if bought.sum() else None,
        "poisson_deviance": round(poisson_deviance(bought, predicted), 4),
        "top_decile_lift": round(float(purchases_captured / share_of_customers), 3),
        "top_decile_revenue_lift": round(float(revenue_captured / share_of_customers), 3),
        "revenue_captured_top_decile": round(float(revenue_captured), 4),
    }


@dataclass
class ValueForecast:
    model: str
    forecast: pd.DataFrame
    selection: dict = field(default_factory=dict)
    holdout: dict | None = None


def choose_model(frame: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int) -> tuple[str, dict]:
    """Back-test both models at cutoff - H (predicting [cutoff - H, cutoff)) and keep the lower Poisson deviance."""
    validation = cutoff - pd.Timedelta(days=horizon_days)
    scores = {}
    for name, forecaster in FORECASTERS.items():
        try:
            forecast = forecaster(frame, validation, horizon_days)
        except tx.TransactionError as exc:
            scores[name] = {"skipped": str(exc)}
            continue
        scores[name] = evaluate(forecast, tx.outcome(frame, validation, cutoff, forecast.index))
    usable = {k: v for k, v in scores.items() if "poisson_deviance" in v}
    if not usable:
        return BTYD, {"validation_cutoff": validation.date().isoformat(), "models": scores}
    winner = min(usable, key=lambda k: usable[k]["poisson_deviance"])
    return winner, {"validation_cutoff": validation.date().isoformat(), "models": scores}


def forecast_value(frame: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int, model: str = "auto") -> ValueForecast:
    if horizon_days < 1:
        raise tx.TransactionError("--horizon-days must be at least 1")
    if model == "auto":
        model, selection = choose_model(frame, cutoff, horizon_days)
    else:
        selection = {"forced": model}
    forecast = FORECASTERS[model](frame, cutoff, horizon_days)
    end = cutoff + pd.Timedelta(days=horizon_days)
    holdout = None
    if frame["at"].max() >= end - pd.Timedelta(days=1):
        holdout = evaluate(forecast, tx.outcome(frame, cutoff, end, forecast.index))
    return ValueForecast(model=model, forecast=forecast, selection=selection, holdout=holdout)
