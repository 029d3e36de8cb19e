"""Monthly snapshots of each customer's segments, and the month-over-month transition matrix, for every kind:

- value_group: the value group, with " (dormant)" appended for dormant customers, or "No purchase";
- rfm: the RFM segment; persona: the behavioural persona; audience:<id>: the segment of that audience strategy.
A customer without a state of that kind in a month counts as "No purchase" (value groups) or "No segment".

The rebuild snapshots value group, RFM and persona for the month of its reference date, an audience evaluation its
audience for the month of the profiles' reference date; `snapshot_months` backfills value groups of earlier months
by recomputing them as of each month's last moment from the orders placed until then (same SQL as the rebuild).
Value group, RFM and persona share one row per customer and month (ProfileSnapshot, a column each); audience
segments have a row per audience (SegmentSnapshot).
"""

from __future__ import annotations

import datetime as dt

from segments.models import ValueGroup

NO_PURCHASE = "No purchase"
NO_SEGMENT = "No segment"
VALUE_GROUP, RFM, PERSONA, AUDIENCE_PREFIX = "value_group", "rfm", "persona", "audience:"
PROFILE_KINDS = {RFM: "rfm_segment", PERSONA: "persona"}  # kind -> profile column (value groups: state_sql)
COLUMNS = {VALUE_GROUP: "value_group", RFM: "rfm", PERSONA: "persona"}  # kind -> ProfileSnapshot column
LABELS = {g.value: g.label for g in ValueGroup}


def state_sql(value_group: str, dormant: str) -> str:
    arms = " ".join(f"WHEN '{code}' THEN '{label}'" for code, label in LABELS.items())
    return (
        f"CASE WHEN {value_group} = '' THEN '{NO_PURCHASE}' "
        f"ELSE (CASE {value_group} {arms} END) || CASE WHEN {dormant} THEN ' (dormant)' ELSE '' END END"
    )


def all_states() -> list[str]:
    states = []
    for label in LABELS.values():
        states += [label, f"{label} (dormant)"]
    return states + [NO_PURCHASE]


def month_start(moment: dt.datetime) -> dt.date:
    return dt.date(moment.year, moment.month, 1)


def month_end_moment(month: dt.date) -> dt.datetime:
    following = dt.date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return dt.datetime.combine(following, dt.time(), tzinfo=dt.UTC) - dt.timedelta(microseconds=1)


def previous_months(month: dt.date, count: int) -> list[dt.date]:
    months = [month]
    for _ in range(count - 1):
        m = months[-1]
        months.append(dt.date(m.year - (m.month == 1), (m.month - 2) % 12 + 1, 1))
    return sorted(months)


def absent_state(kind: str) -> str:
    return NO_PURCHASE if kind == VALUE_GROUP else NO_SEGMENT


def audience_kind(audience_id: int) -> str:
    return f"{AUDIENCE_PREFIX}{audience_id}"


def transition_matrix(rows: list[tuple[str, str, int]], kind: str = VALUE_GROUP) -> dict:
    """rows of (from_state, to_state, customers) -> {states, cells[from][to], totals}."""
    present = {s for r in rows for s in r[:2]}
    known = all_states() if kind == VALUE_GROUP else []
    states = [s for s in known if s in present] + sorted(present - set(known) - {NO_SEGMENT})
    states += [NO_SEGMENT] if NO_SEGMENT in present else []
    cells = {a: {b: 0 for b in states} for a in states}
    for a, b, n in rows:
        cells[a][b] += n
    return {"states": states, "cells": cells, "totals": {a: sum(cells[a].values()) for a in states}}
