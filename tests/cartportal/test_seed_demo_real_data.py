"""The README's real-data start: `seed_demo` with the public data folder loads every data set, trains what the data
allows, scores, and prints managers for the regions that hold most of the data."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from cartportal.demo import DEMO_PASSWORD
from cartportal.models import Order


@pytest.mark.django_db
def test_seed_demo_on_the_real_data_folder(data_dir):
    out = StringIO()
    call_command("seed_demo", f"--data-dir={data_dir}", stdout=out)
    printed = out.getvalue()
    for name in ("online_retail_first70050rows.csv", "online_shoppers_intention.csv", "hillstrom.csv"):
        assert f"  {name}: read" in printed, name
    # the managers look after the regions with the most shop activity: the United Kingdom (orders), then the
    # busiest Online Shoppers region (sessions), never the first codes of the alphabet
    orders = Order.objects.values("region__code").order_by().annotate(n=Count("pk"))
    assert max(orders, key=lambda row: row["n"])["region__code"] == "UNITED-KINGDOM"
    assert "manager_united-kingdom" in printed and "manager_australia" not in printed
    from predictions.models import ModelVersion, ScoringRun

    value = ModelVersion.objects.get(kind="value")
    assert value.status == "active" and value.holdout["forecast_days"] == 365
    assert value.metrics["poisson_deviance"] < value.metrics["baseline"]["poisson_deviance"]
    run = ScoringRun.objects.get(kind="value", state="published")
    assert run.scores.filter(region__code="UNITED-KINGDOM", value__gt=0).count() > 2000
    for version in ModelVersion.objects.exclude(status="active"):
        assert version.refusal_reason, version  # a model that was not activated says why
    assert "Traceback" not in printed

    client = Client()
    # through the login form: the throttling backend needs the request
    login = client.post("/accounts/login/", {"username": "manager_united-kingdom", "password": DEMO_PASSWORD})
    assert login.status_code == 302
    clv = client.get(reverse("predictions:clv")).content.decode()
    assert "next <strong>12 months</strong>" in clv and "/NBD + Gamma-Gamma" in clv
    readiness = client.get(reverse("predictions:readiness")).content.decode()
    assert "UNITED-KINGDOM" in readiness and "OSI-1" not in readiness
