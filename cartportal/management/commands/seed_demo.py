from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from cartportal import extensions
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
        from cartportal.ingest.demo import load_demo_data

        load_demo_data(data_dir or None, self.stdout)

    def _build_domains(self) -> None:
        """Each domain app registers its demo step (train, score, segment, draft campaigns) in AppConfig.ready()."""
        for _, dotted_path in extensions.DEMO_BUILDERS:
            import_string(dotted_path)(self.stdout)
