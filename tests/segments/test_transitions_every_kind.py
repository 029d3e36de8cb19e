"""Month-over-month transitions for every segment kind (value group, RFM, persona, audience segment): the matrix the
page and the selector show equals a cross-tabulation of the customers' segments read from the profiles and the
audience members right after each month's rebuild."""

import datetime as dt

import pandas as pd
import pytest
from django.test import Client

from cartportal import access
from cartportal.access import SystemActor
from segments import selectors, snapshots
from segments.models import AudienceMember, CustomerProfile
from segments.services import audience_create, segments_rebuild
from segments.services.audiences import audience_evaluate
from tests.factories import UserFactory
from tests.interventions.winback_data import seed_shop

MONTH_ENDS = [dt.datetime(2025, 3, 31, 23, tzinfo=dt.UTC), dt.datetime(2025, 6, 30, 23, tzinfo=dt.UTC)]
RULES = [
    {"name": "Frequent", "feature": "frequency", "op": ">=", "value": 6},
    {"name": "Engaged", "feature": "engagement_score", "op": ">=", "value": 33.3},
    {"name": "Lapsed", "feature": "recency_days", "op": ">", "value": 60},
]
VALUE_LABELS = {"": None} | snapshots.LABELS


def _states(region, audience) -> dict[str, pd.Series]:
    """Each customer's state per kind, straight from the profiles and members (not from the snapshots)."""
    profiles = pd.DataFrame(
        list(
            CustomerProfile.objects.filter(region=region).values(
                "customer_id", "value_group", "dormant", "rfm_segment", "persona"
            )
        )
    ).set_index("customer_id")
    buyers = profiles[profiles["value_group"] != ""]
    value = buyers["value_group"].map(snapshots.LABELS) + buyers["dormant"].map({True: " (dormant)", False: ""})
    members = dict(AudienceMember.objects.filter(audience=audience).values_list("customer_id", "segment"))
    return {
        "value_group": value,
        "rfm": profiles.loc[profiles["rfm_segment"] != "", "rfm_segment"],
        "persona": profiles.loc[profiles["persona"] != "", "persona"],
        snapshots.audience_kind(audience.pk): pd.Series(members, dtype=object),
    }


def _crosstab(before: pd.Series, after: pd.Series, absent: str) -> dict:
    both = pd.concat([before.rename("a"), after.rename("b")], axis=1).fillna(absent)
    table = pd.crosstab(both["a"], both["b"])
    return {(a, b): int(table.loc[a, b]) for a in table.index for b in table.columns if table.loc[a, b]}


@pytest.mark.slow
@pytest.mark.django_db
def test_transition_matrix_of_every_kind_matches_an_independent_count(world):
    region = world.region_a
    seed_shop(region, "tr", customers=300, months=18, seed=5, lines=True)
    actor = SystemActor("task:test", [region.pk])
    audience = None
    captured = []
    for as_of in MONTH_ENDS:
        segments_rebuild(actor=actor, region_ids=[region.pk], as_of=as_of, bootstraps=2)
        if audience is None:
            audience = audience_create(actor=actor, region=region, name="Habits", universe="all", rules=RULES)
        audience_evaluate(actor=actor, audience=audience)
        captured.append(_states(region, audience))

    user = UserFactory(username="analyst_tr", roles=[access.ANALYST])
    access.grant_region(user, region, access.ANALYST)
    kinds = dict(selectors.transition_kinds(user))
    assert set(kinds) == {"value_group", "rfm", "persona", snapshots.audience_kind(audience.pk)}
    client = Client()
    client.force_login(user)
    for kind in kinds:
        expected = _crosstab(captured[0][kind], captured[1][kind], snapshots.absent_state(kind))
        data = selectors.transitions(user, kind=kind, month_from=dt.date(2025, 3, 1), month_to=dt.date(2025, 6, 1))
        shown = {(a, b): n for a in data["states"] for b in data["states"] if (n := data["cells"][a][b])}
        assert shown == expected, kind
        assert sum(data["totals"].values()) == len(set(captured[0][kind].index) | set(captured[1][kind].index))
        assert len({a for a, _ in expected} | {b for _, b in expected}) >= 2, kind  # customers really moved
        export = client.get(f"/segments/transitions/?kind={kind}&format=csv")
        rows = b"".join(export.streaming_content).decode().strip().splitlines()[1:]
        assert {(a, b): int(n) for a, b, n in (r.rsplit(",", 2) for r in rows)} == expected
    page = client.get(f"/segments/transitions/?kind={snapshots.audience_kind(audience.pk)}").content.decode()
    assert "Audience: Habits" in page and "Frequent" in page
