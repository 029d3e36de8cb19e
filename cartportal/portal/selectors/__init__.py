"""Portal reads that combine domains (the executive rollup) and the core's behavioural insights and audit viewer.

Every selector takes the user and the region ids asked for, and starts from the user's `Scope`, so a page and the
API built on the same selector show the same numbers.
"""

from __future__ import annotations

from cartportal.access import region_sql, scoped_region_ids
from cartportal.sql import fetch_dicts

__all__ = ["fetch_dicts", "region_sql", "scoped_region_ids"]
