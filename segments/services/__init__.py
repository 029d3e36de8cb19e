"""Segment writes (services): the set-based rebuild of every segment, snapshots, personas and audiences."""

from segments.services.audiences import (
    UNIVERSES,
    audience_create,
    audience_delete,
    audience_evaluate,
    audience_universe,
    audiences_reevaluate,
    changeable_region_or_404,
)
from segments.services.rebuild import (
    RebuildResult,
    SegmentError,
    personas_rebuild,
    reference_moment,
    segments_rebuild,
    segments_snapshot_months,
)

__all__ = [
    "UNIVERSES",
    "RebuildResult",
    "SegmentError",
    "audience_create",
    "audience_delete",
    "audience_evaluate",
    "audience_universe",
    "audiences_reevaluate",
    "changeable_region_or_404",
    "personas_rebuild",
    "reference_moment",
    "segments_rebuild",
    "segments_snapshot_months",
]
