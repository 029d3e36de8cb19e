"""One import: read, validate, resolve regions and references, de-duplicate, COPY, insert, quarantine.

Each chunk is its own transaction, so progress is visible while a big file loads and a crash loses at most
the chunk in flight (re-running the import then adds only what is missing: every row has a key).
Counts always add up: read = loaded + cancellations + quarantined + duplicates + erased_skipped (rows naming an
erased customer, skipped and not kept).

Modules: `run` (one import end to end), `chunk` (one chunk), `staging` and `direct` (the two ways rows reach
the tables, sharing the checks and the conversion of `..copying`), `regions`, `rejections`, `options`.
"""

from __future__ import annotations

from .chunk import LeaseLost
from .options import Counts, ImportOptions
from .regions import RegionResolver, region_code_for
from .run import ImportRun, check_target, resolve_mapping, run_import

__all__ = [
    "Counts",
    "ImportOptions",
    "ImportRun",
    "LeaseLost",
    "RegionResolver",
    "check_target",
    "region_code_for",
    "resolve_mapping",
    "run_import",
]
