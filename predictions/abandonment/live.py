"""Real-time scoring of one live session (used by the API): probability of abandoning and its drivers."""

from __future__ import annotations

import pandas as pd

from predictions.abandonment import features
from predictions.abandonment.explain import explain_rows
from predictions.abandonment.services import latest_model


class NoModel(LookupError):
    """No abandonment model has been trained yet."""


FIELD_ALIASES = {
    "administrative": "administrative_pages",
    "informational": "informational_pages",
    "productrelated": "product_pages",
    "productrelated_duration": "product_duration",
    "bouncerates": "bounce_rate",
    "exitrates": "exit_rate",
    "pagevalues": "page_value",
    "specialday": "special_day",
    "operatingsystems": "operating_system",
    "traffictype": "traffic_source",
    "visitortype": "visitor_type",
}


def session_frame(session: dict) -> pd.DataFrame:
    clean = {}
    for key, value in session.items():
        name = str(key).strip().lower()
        clean[FIELD_ALIASES.get(name, name)] = value
    numeric = set(features.NUMERIC) | {"administrative_duration", "informational_duration", "product_duration"}
    bad = [n for n in numeric if clean.get(n) not in (None, "") and pd.isna(pd.to_numeric(clean[n], errors="coerce"))]
    if bad:
        raise ValueError(f"not a number: {', '.join(sorted(bad))}")
    return features.finish(pd.DataFrame([clean]))


def score_live_session(session_dict: dict, model=None) -> dict:
    """``session_dict``: the session's fields so far (pages, durations, rates, page_value, cart_adds, cart_value,
    visitor_type, ...; missing fields count as none seen). Returns {"probability", "drivers": [...]}."""
    model = model or latest_model()
    if model is None:
        raise NoModel("no abandonment model has been trained yet")
    if not hasattr(model, "shap_values") or "page_value" not in getattr(model, "features", []):
        # the portal's model now scores open carts; whole-session fields describe the outcome, not a cart
        raise NoModel("session scoring is retired: score the open cart with POST /api/v1/carts/score/")
    frame = session_frame(session_dict)
    probability = float(model.predict(frame)[0])
    shap, expected = model.shap_values(frame)
    return {"probability": round(probability, 4), "drivers": explain_rows(shap, expected, frame)[0]}
