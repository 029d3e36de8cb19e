"""The customer-segment filter of the analysis pages (registered with `cartportal.extensions` in AppConfig.ready()):
the RFM segments, value groups and personas of the customers' latest rebuild, written `kind:code`."""

from __future__ import annotations

from segments.models import CustomerProfile, ValueGroup

KINDS = {
    "rfm": ("rfm_segment", "RFM"),
    "value_group": ("value_group", "Value group"),
    "persona": ("persona", "Persona"),
}


def _label(kind: str, code: str) -> str:
    name = dict(ValueGroup.choices).get(code, code) if kind == "value_group" else code.replace("_", " ")
    return f"{KINDS[kind][1]}: {name}"


def segment_choices(scope) -> list[tuple[str, str]]:
    """The segments that hold a customer of the scope, by kind, then code."""
    profiles = scope.filter(CustomerProfile.objects.all())
    choices = []
    for kind, (column, _) in KINDS.items():
        codes = profiles.exclude(**{column: ""}).values_list(column, flat=True).distinct().order_by(column)
        choices += [(f"{kind}:{code}", _label(kind, code)) for code in codes]
    return choices


def segment_members_sql(value: str) -> tuple[str, list]:
    """The customer ids of one segment (`kind:code`, a value `segment_choices` offered)."""
    kind, _, code = value.partition(":")
    column = KINDS[kind][0]
    return f"SELECT customer_id FROM {CustomerProfile._meta.db_table} WHERE {column} = %s", [code]
