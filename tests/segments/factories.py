"""Segment rows for tests: profiles, segment summaries, persona runs, snapshots and audiences."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from segments.models import AudienceDefinition, CustomerProfile, PersonaRun, ProfileSnapshot, Segment
from tests.factories import CustomerFactory


def profile(region, *, external_id: str | None = None, value_group="big_fish", dormant=True, **fields):
    customer = CustomerFactory(region=region, **({"external_id": external_id} if external_id else {}))
    now = timezone.now()
    values = {
        "built_at": now,
        "reference_at": now,
        "frequency": 1,
        "monetary": 100,
        "recency_days": 120,
        "r_score": 1,
        "f_score": 1,
        "m_score": 5,
        "rfm_segment": "Hibernating",
        **fields,
    }
    return CustomerProfile.objects.create(
        customer=customer, region=region, value_group=value_group, dormant=dormant, **values
    )


def segment(region, *, name: str, kind="value_group", code="big_fish", size=3):
    return Segment.objects.create(
        region=region,
        kind=kind,
        code=code,
        name=name,
        size=size,
        dormant_size=1,
        monetary_total=10,
        built_at=timezone.now(),
    )


def persona_run(region, *, name: str):
    return PersonaRun.objects.create(
        region=region,
        built_at=timezone.now(),
        customers=10,
        features=["basket_size"],
        k=2,
        selection=[{"k": 2, "silhouette": 0.5, "bic": 10.0}],
        stability_ari=0.9,
        stability_runs=[0.9],
        gmm_agreement_ari=0.8,
        profiles=[{"name": name, "size": 10, "means": {"basket_size": 1.0}, "z": {}}],
    )


def snapshots(region, *, state_before: str, state_after: str):
    customer = CustomerFactory(region=region)
    ProfileSnapshot.objects.create(
        month=dt.date(2024, 1, 1), customer=customer, region=region, value_group=state_before
    )
    ProfileSnapshot.objects.create(month=dt.date(2024, 2, 1), customer=customer, region=region, value_group=state_after)


def audience(region, *, name: str):
    return AudienceDefinition.objects.create(
        region=region, name=name, universe="all", rules=[], result={"universe_size": 0, "segments": []}
    )
