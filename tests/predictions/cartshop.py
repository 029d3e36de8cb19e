"""A generated shop loaded through the import pipeline, for the cart abandonment tests."""

from __future__ import annotations

from cartportal.access import SystemActor
from cartportal.ingest.demo import GENERATED_ORDER
from cartportal.ingest.generator import REGIONS, generate
from cartportal.ingest.pipeline import ImportOptions
from cartportal.ingest.services import import_run
from cartportal.models import Region


def load_generated_shop(*, customers: int = 1500, drivers: str = "all", seed: int = 42) -> None:
    actor = SystemActor("test:generated_shop")
    for code, name, currency in REGIONS:
        Region.objects.get_or_create(code=code, defaults={"name": name, "currency": currency})
    files = generate(seed=seed, customers=customers, drivers=drivers)
    for kind in GENERATED_ORDER:
        counts = import_run(actor=actor, source=files[kind], options=ImportOptions(kind=kind, filename=kind)).counts
        assert counts["quarantined"] == 0, (kind, counts.get("by_code"))
