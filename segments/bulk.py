"""Planner settings for the set-based segment statements (for the current transaction only)."""

from __future__ import annotations

# The rebuild sorts and hashes whole regions (a million customers is a few hundred MB of sort input); with the
# 4 MB default every sort and hash spills to disk in many batches.
BULK_WORK_MEM = "256MB"


def plan_for_bulk(cursor) -> None:
    """Freshly loaded tables may have no statistics yet; a nested-loop plan over them is quadratic, so the
    set-based statements ask for hash joins, and for enough memory to sort and hash in one pass."""
    cursor.execute("SET LOCAL enable_nestloop = off")
    cursor.execute("SELECT set_config('work_mem', %s, true)", [BULK_WORK_MEM])
