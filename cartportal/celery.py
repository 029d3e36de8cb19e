import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartportal.settings")

app = Celery("cartportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["cartportal.audit", "cartportal.ingest", "cartportal.pages"])
