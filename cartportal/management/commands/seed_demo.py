import importlib

from django.conf import settings
from django.core.management.base import BaseCommand

from cartportal.demo import DEMO_PASSWORD, ensure_demo_regions, ensure_demo_token, ensure_demo_users


class Command(BaseCommand):
    help = "Create demo regions, one login per role, and demo data (real data sets when CARTPORTAL_DATA_DIR is set)."

    def add_arguments(self, parser):
        parser.add_argument("--data-dir", default=settings.CARTPORTAL_DATA_DIR)
        parser.add_argument("--skip-data", action="store_true")

    def handle(self, *args, data_dir: str, skip_data: bool, **options):
        if not skip_data:
            self._load_data(data_dir)
        ensure_demo_regions()
        rows = ensure_demo_users()
        key = ensure_demo_token()
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD})")
        for username, role, regions in rows:
            self.stdout.write(f"  {username:<24} {role:<28} {regions}")
        if key:
            self.stdout.write(f"\nPartner API token (shown once): {key}")
        if not skip_data:
            self._build_domains()

    def _load_data(self, data_dir: str) -> None:
        """Domain loaders register themselves as cartportal.ingest.demo.load_demo_data(data_dir, stdout)."""
        try:
            module = importlib.import_module("cartportal.ingest.demo")
        except ModuleNotFoundError as missing:
            if missing.name != "cartportal.ingest.demo":
                raise
            return
        module.load_demo_data(data_dir or None, self.stdout)

    def _build_domains(self) -> None:
        """Each domain app may offer `<app>.demo.build_demo(stdout)`: train, score, segment, draft campaigns."""
        for app in ("predictions", "segments", "interventions"):
            try:
                module = importlib.import_module(f"{app}.demo")
            except ModuleNotFoundError as missing:
                if missing.name != f"{app}.demo":
                    raise
                continue
            module.build_demo(self.stdout)
