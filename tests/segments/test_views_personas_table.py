"""The persona table puts each mean under its own feature's column."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from segments.models import PersonaRun

pytestmark = pytest.mark.django_db


def test_means_sit_under_their_own_feature(client, world):
    # Stored as a JSON object, the means come back with their keys in the database's order (by key length),
    # not in the run's feature order.
    PersonaRun.objects.create(
        region=world.region_a,
        built_at=timezone.now(),
        customers=20,
        features=["discount_share", "review_reliance", "cadence_days"],
        k=1,
        profiles=[
            {
                "name": "Routine Buyer",
                "size": 20,
                "means": {"discount_share": 0.125, "review_reliance": 0.5, "cadence_days": 183.25},
                "z": {"discount_share": 0.1, "review_reliance": 0.2, "cadence_days": -1.5},
            }
        ],
    )
    client.force_login(world.manager_a)
    body = client.get(reverse("segments:personas")).content.decode()
    table = re.search(r"<caption>Persona profiles \(feature means\)</caption>.*?</table>", body, re.S).group(0)
    headers = re.findall(r'<th class="num">([^<]+)</th>', table)
    cells = re.findall(r'<td class="num">([^<]+)</td>', table)
    assert headers == ["Customers", "discount_share", "review_reliance", "cadence_days"]
    assert cells == ["20", "0.125", "0.5", "183.25"]
