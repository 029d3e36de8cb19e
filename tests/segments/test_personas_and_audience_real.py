"""Personas on the real Online Retail sample: stability (ARI) is measured and reported, and the page and the API
show the same numbers; an audience over the real profiles puts every customer in exactly one segment."""

import pytest
from django.core.management import call_command
from django.test import Client

from cartportal import access
from cartportal.models import Region
from segments.models import AudienceMember, CustomerProfile, PersonaRun
from segments.services import audience_create, personas_rebuild, segments_rebuild
from tests.factories import UserFactory
from tests.segments.test_import_helpers import IMPORT_ARGS


@pytest.mark.django_db
def test_persona_stability_reported_and_page_matches_api(data_dir):
    call_command(
        "import_transactions",
        str(data_dir / "online_retail_sample40000.csv"),
        *IMPORT_ARGS,
        stdout=open("/dev/null", "w"),
    )
    segments_rebuild(actor="command:test")
    region = max(Region.objects.all(), key=lambda r: CustomerProfile.objects.filter(region=r).count())
    runs = personas_rebuild(actor="command:test", region_ids=[region.pk], bootstraps=5)
    assert len(runs) == 1
    run = PersonaRun.objects.get(pk=runs[0].pk)
    assert 0 <= run.stability_ari <= 1 and len(run.stability_runs) == 5
    assert run.unstable == (run.stability_ari < 0.75)
    assert run.k == max(run.selection, key=lambda s: s["silhouette"])["k"]
    assert sum(p["size"] for p in run.profiles) == run.customers
    named = CustomerProfile.objects.filter(region=region).exclude(persona="").count()
    assert named == run.customers

    user = UserFactory(username="analyst_uk", roles=[access.ANALYST])
    access.grant_region(user, region, access.ANALYST)
    client = Client()
    client.force_login(user)
    api = client.get("/api/v1/segments/personas/").json()["results"][0]
    page = client.get("/segments/personas/").content.decode()
    assert api["stability_ari"] == run.stability_ari
    assert f">{run.stability_ari}<" in page
    for profile in api["profiles"]:
        assert profile["name"] in page

    audience = audience_create(
        actor=user,
        region=region,
        name="Real",
        universe="purchasers",
        rules=[
            {"name": "Top spenders", "feature": "monetary", "op": ">=", "value": 0.8, "threshold": "quantile"},
            {"name": "Repeat", "feature": "frequency", "op": ">=", "value": 2},
        ],
        min_size=50,
        policy="flag",
    )
    buyers = CustomerProfile.objects.filter(region=region).exclude(value_group="").count()
    assert AudienceMember.objects.filter(audience=audience).count() == buyers
    sizes = {s["segment"]: s["size"] for s in audience.result["segments"]}
    assert sum(sizes.values()) == buyers
    for s in audience.result["segments"]:
        assert s["measured_lift"] is None or isinstance(s["measured_lift"], float)
        assert s["valid"] == (s["size"] >= 50)
