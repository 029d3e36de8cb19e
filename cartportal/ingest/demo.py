"""Demo data for `manage.py seed_demo`: the real data sets when a folder is given, else the generator."""

from __future__ import annotations

from cartportal.access import SystemActor
from cartportal.models import Region

from .datasets import load_folder
from .generator import REGIONS, generate
from .pipeline import ImportOptions
from .services import import_run

GENERATED_ORDER = ["customers", "products", "transactions", "sessions", "cart_events", "reviews"]


def load_demo_data(data_dir: str | None, stdout) -> None:
    actor = SystemActor("command:seed_demo")
    if data_dir:
        stdout.write(f"Loading the data sets in {data_dir} ...")
        load_folder(data_dir, actor, stdout=stdout)
        return
    stdout.write("No data folder given: loading a generated demo shop ...")
    for code, name, currency in REGIONS:
        Region.objects.get_or_create(code=code, defaults={"name": name, "currency": currency})
    files = generate()
    for kind in GENERATED_ORDER:
        counts = import_run(actor=actor, source=files[kind], options=ImportOptions(kind=kind, filename=kind)).counts
        stdout.write(
            f"  {kind}: read {counts['read']:,}, loaded {counts['loaded']:,}, "
            f"duplicates {counts['duplicates']:,}, quarantined {counts['quarantined']:,}"
        )
