"""Demo builder for segments: every segment and persona of the demo shop, twelve monthly snapshots for the
transitions page, and one demo audience per region with purchasing customers (re-evaluated when it exists)."""

from __future__ import annotations

from cartportal.access import SystemActor
from cartportal.models import Region
from segments.audiences.rules import EXAMPLE_RULES
from segments.models import AudienceDefinition, CustomerProfile
from segments.services import audience_create, audience_evaluate, segments_rebuild, segments_snapshot_months

ACTOR = SystemActor("command:seed_demo")
AUDIENCE_NAME = "Demo: spenders, repeat buyers, lapsed"
AUDIENCE_RULES = EXAMPLE_RULES


def build_demo(stdout) -> None:
    result = segments_rebuild(actor=ACTOR)
    if result.reference_at is None:
        stdout.write("segments: no orders yet, nothing to segment")
        return
    months = segments_snapshot_months(actor=ACTOR, months=12)
    stdout.write(
        f"segments: {result.customers:,} customers as of {result.reference_at:%Y-%m-%d}, "
        f"{len(result.persona_runs)} persona runs, {len(months)} monthly snapshots"
    )
    for region in _regions_with_buyers():
        audience = AudienceDefinition.objects.filter(region=region, name=AUDIENCE_NAME).first()
        if audience is None:
            audience = audience_create(
                actor=ACTOR,
                region=region,
                name=AUDIENCE_NAME,
                universe="purchasers",
                rules=AUDIENCE_RULES,
                min_size=10,
            )
        else:
            audience_evaluate(actor=ACTOR, audience=audience)
        sizes = ", ".join(f"{s['segment']} {s['size']}" for s in audience.result["segments"])
        stdout.write(f"segments: audience in {region.code}: {sizes}")


def _regions_with_buyers():
    ids = CustomerProfile.objects.exclude(value_group="").values_list("region_id", flat=True).distinct()
    return Region.objects.filter(pk__in=ids).order_by("code")
