"""A fresh demo (`./run.sh` with no data folder: the generated shop) trains the recommender through the registry's
gate, so a manager who drafts a bundle campaign sees, before submitting it, a concrete companion product for the
first customers of the audience and why it was chosen; the what-if simulator resolves the same audience."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from cartportal.demo import DEMO_PASSWORD
from cartportal.models import JobRun, Region
from interventions.models import Campaign
from predictions.models import ModelVersion

pytestmark = pytest.mark.django_db


def _manager_and_region(printed: str) -> tuple[str, Region]:
    username, code = re.search(r"(manager_\S+)\s+RegionalManager\s+(\S+)", printed).groups()
    return username, Region.objects.get(code=code)


def test_fresh_demo_recommender_gives_a_bundle_draft_a_companion_with_its_reason():
    out = StringIO()
    call_command("seed_demo", "--data-dir=", stdout=out)  # the generated shop, as ./run.sh starts without data
    printed = out.getvalue()
    assert "Traceback" not in printed

    version = ModelVersion.objects.get(kind="recommendation")
    assert version.status == ModelVersion.Status.ACTIVE, version.refusal_reason
    metrics = version.metrics
    assert metrics["ranking_score"] > metrics["baseline"]["ranking_score"]  # beat popularity on the later holdout
    assert all(cut < version.holdout["cutoff"] for cut in version.holdout["validation_cutoffs"])
    line = next(x for x in printed.splitlines() if x.startswith("predictions: recommender"))
    print(line)
    assert line.startswith(f"predictions: recommender v{version.pk}") and "(active)" in line
    job = JobRun.objects.filter(kind="retrain", parameters__kind="recommendation").get()
    assert job.state == JobRun.State.SUCCEEDED and job.counts["promoted"] is True

    username, region = _manager_and_region(printed)
    client = Client()
    # through the login form: the throttling backend needs the request
    login = client.post("/accounts/login/", {"username": username, "password": DEMO_PASSWORD})
    assert login.status_code == 302
    page = client.get(reverse("interventions:campaigns"))
    audience = next(key for key, _ in page.context["audience_choices"] if key.startswith("value_group:"))
    drafted = client.post(
        reverse("interventions:campaigns"),
        {
            "region": region.code,
            "name": "Bundle for regulars",
            "intervention": "bundle_offer",
            "allocation": "uniform",
            "audience": audience,
            "holdout_share": "0.1",
        },
    )
    assert drafted.status_code == 302, drafted.content.decode()[:2000]
    campaign = Campaign.objects.get(name="Bundle for regulars")
    detail = client.get(reverse("interventions:campaign", args=[campaign.pk]))
    preview = detail.context["preview"]
    assert preview["ready"] and preview["messages"], preview
    first = preview["messages"][0]
    print(f"preview: {preview}")
    assert first["arm"] == "bundle_offer" and " is often bought with " in first["text"]
    assert re.fullmatch(r"bought together in \d+ baskets, \d+\.\d times more often than by chance", first["reason"])
    body = detail.content.decode()
    assert "What the first customers would receive" in body and first["reason"] in body

    query = {"region": region.code, "audience": audience, "intervention": "bundle_offer"}
    simulated = client.get(reverse("interventions:simulator"), query).context["result"]
    assert simulated["audience"]["key"] == audience and simulated["reach"]["audience"] > 0
