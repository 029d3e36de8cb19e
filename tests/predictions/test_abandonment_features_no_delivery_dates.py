"""Shops whose orders carry no promised or delivered dates (most transaction exports) still get features."""

import datetime as dt

import pytest
from django.utils import timezone

from cartportal.models import Customer, Order, Session
from predictions.abandonment import features


@pytest.mark.django_db
def test_features_without_delivery_dates(world):
    customer = Customer.objects.create(external_id="c1", region=world.region_a)
    now = timezone.now()
    Order.objects.create(
        external_id="o1", customer=customer, region=world.region_a, placed_at=now - dt.timedelta(days=30), total=20
    )
    session = Session.objects.create(
        external_id="s1",
        customer=customer,
        region=world.region_a,
        started_at=now - dt.timedelta(days=1),
        product_pages=4,
    )
    frame = features.build(Session.objects.filter(pk=session.pk), now)
    assert len(frame) == 1
