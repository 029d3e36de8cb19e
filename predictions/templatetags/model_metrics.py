"""Holdout metrics as people read them: one row per figure, nested results spelled out, numbers rounded."""

from __future__ import annotations

from django import template

register = template.Library()


def _readable(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list | tuple):
        return ", ".join(_readable(v) for v in value)
    return str(value)


def _label(key: str) -> str:
    return str(key)


@register.filter
def metric_rows(metrics) -> list[tuple[str, str]]:
    """[(label, value)] with nested dicts flattened as "catboost · roc_auc"."""
    rows: list[tuple[str, str]] = []

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix} · {_label(key)}" if prefix else _label(key), inner)
        else:
            rows.append((prefix, _readable(value)))

    walk("", metrics or {})
    return rows


@register.filter
def headline_metrics(metrics) -> list[tuple[str, str]]:
    """The top-level figures only (the model card lists the rest)."""
    return [(_label(k), _readable(v)) for k, v in (metrics or {}).items() if not isinstance(v, dict | list)]
