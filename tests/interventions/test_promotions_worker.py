"""The promotions button queues a job that a real Celery worker runs for the manager's region only."""

import pytest
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from cartportal import access
from cartportal.models import Customer, JobRun, Region
from interventions.models import PromotionOffer
from tests.base import build_world
from tests.datasets import import_online_retail
from tests.ingest.test_upload_page import wait_for


@pytest.mark.django_db(transaction=True)
def test_generate_button_runs_on_a_worker_for_the_chosen_region(celery_worker_process, data_dir):
    world = build_world()
    import_online_retail(data_dir / "online_retail_sample40000.csv")
    biggest = Customer.objects.values("region").annotate(n=Count("id")).order_by("-n").first()["region"]
    region = Region.objects.get(pk=biggest)
    access.grant_region(world.manager_a, region, access.REGIONAL_MANAGER)
    client = Client()
    client.force_login(world.manager_a)

    response = client.post(reverse("interventions:promotions_generate"), {"region": region.code})
    assert response.status_code == 302 and "/jobs/" in response["Location"]
    job = wait_for(int(response["Location"].rstrip("/").split("/")[-1]), seconds=180)
    assert job.state == JobRun.State.SUCCEEDED, job.error
    assert job.kind == "interventions.promotions" and job.started_by == world.manager_a
    assert job.counts["offers"] == PromotionOffer.objects.count() > 0 and job.counts["regions"] == 1
    assert set(PromotionOffer.objects.values_list("region_id", flat=True)) == {region.pk}
    assert "holdout_mae" in job.counts and "top3_hit_rate" in job.counts
    page = client.get(reverse("interventions:promotions"), {"region": region.code}).content.decode()
    assert (
        "Generate this week" in page
        and PromotionOffer.objects.order_by("customer__external_id", "rank").first().category in page
    )
