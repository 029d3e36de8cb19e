"""python manage.py load_data FOLDER: load every known public data set found in FOLDER (see README)."""

import json

from django.core.management.base import BaseCommand, CommandError

from cartportal.access import SystemActor
from cartportal.ingest.datasets import load_folder


class Command(BaseCommand):
    help = "Load the public data sets found in a folder (Online Shoppers, Online Retail, Olist, survey, reviews)."

    def add_arguments(self, parser):
        parser.add_argument("folder")

    def handle(self, *args, folder: str, **options):
        from pathlib import Path

        if not Path(folder).is_dir():
            raise CommandError(f"{folder} is not a folder.")
        results = load_folder(folder, SystemActor("command:load_data"), stdout=self.stdout)
        keys = ("read", "loaded", "cancellations", "quarantined", "duplicates")
        self.stdout.write(json.dumps({name: {k: c.get(k, 0) for k in keys} for name, c in results.items()}))
