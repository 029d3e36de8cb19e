"""The analysis filters on the segment members, personas, transitions and executive pages: each page's figures (and
its CSV export) match an independent ORM count for no filter and for each filter, each filter changes the figures,
the pager and the export keep the filters, bad values answer 400 with a message, and the region filter never
widens a manager's scope. The shop is the one of `test_analysis_filters`."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import Counter

import pytest
from django.db.models import Exists, Min, OuterRef
from django.urls import reverse
from django.utils import timezone

from cartportal.models import CartEvent, Session
from segments import snapshots
from segments.models import CustomerProfile, PersonaRun, ProfileSnapshot
from tests.base import login_through_form
from tests.factories import CustomerFactory
from tests.portal import test_analysis_filters as base

pytestmark = pytest.mark.django_db

shop = base.shop  # the same customers, orders, sessions, carts and segment memberships
FILTERS = base.FILTERS
PERSONAS = ["Bargain hunters", "Browsers", "Loyalists"]
STATES = snapshots.all_states()


@pytest.fixture
def segmented(shop):
    """`shop` plus a persona per customer with each region's persona run (sizes as its rebuild counted them) and
    value-group snapshots of two months for every customer."""
    rng = random.Random(33)
    for profile in CustomerProfile.objects.all():
        profile.persona = rng.choice(PERSONAS)
        profile.save(update_fields=["persona"])
        for month in (dt.date(2024, 10, 1), dt.date(2024, 11, 1)):
            ProfileSnapshot.objects.create(
                month=month,
                customer_id=profile.customer_id,
                region_id=profile.region_id,
                value_group=rng.choice(STATES),
            )
    for region in (shop.region_a, shop.region_b):
        sizes = Counter(CustomerProfile.objects.filter(region=region).values_list("persona", flat=True))
        PersonaRun.objects.create(
            region=region,
            built_at=timezone.now(),
            customers=sum(sizes.values()),
            features=["frequency"],
            k=len(PERSONAS),
            profiles=[{"name": p, "size": sizes[p], "means": {"frequency": 1.0}, "z": {}} for p in PERSONAS],
        )
    return shop


def _kept(world, params: dict):
    return base.expected_customers(world, params).values("pk")


def _changes(params: dict, filtered: int, unfiltered: int) -> None:
    """Every filter of the list keeps some of the page's customers and leaves others out."""
    if params:
        assert 0 < filtered < unfiltered, (params, filtered, unfiltered)


# --- segment members -----------------------------------------------------------------------------------------------


def test_members_honour_each_filter(segmented):
    client = login_through_form(segmented.manager_a.username)
    loyal = CustomerProfile.objects.filter(region=segmented.region_a, value_group="loyal")
    for params in FILTERS:
        rows = base.export(client, reverse("segments:members"), {**params, "kind": "value_group", "code": "loyal"})
        expected = loyal.filter(customer_id__in=_kept(segmented, params))
        wanted = sorted(expected.values_list("customer__external_id", flat=True))
        assert sorted(r[0] for r in rows) == wanted, params
        _changes(params, len(rows), loyal.count())
        body = client.get(reverse("segments:members"), {**params, "kind": "value_group", "code": "loyal"})
        assert body.status_code == 200
        assert len(re.findall(r"<tr><td>C\d+</td>", body.content.decode())) == len(wanted), params


def test_members_pager_and_export_keep_the_filters(segmented):
    for _ in range(70):  # more loyal mobile customers than one page holds
        customer = CustomerFactory(region=segmented.region_a, device="mobile", first_seen=timezone.now())
        CustomerProfile.objects.create(
            customer=customer,
            region=segmented.region_a,
            built_at=timezone.now(),
            reference_at=timezone.now(),
            value_group="loyal",
        )
    client = login_through_form(segmented.manager_a.username)
    params = {"kind": "value_group", "code": "loyal", "device": "mobile"}
    first = client.get(reverse("segments:members"), params).content.decode()
    assert "device=mobile&amp;" in first and "format=csv" in first  # the export link carries the filter
    export_link = re.search(r'class="export" href="\?([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "kind=value_group" in export_link and "code=loyal" in export_link and "device=mobile" in export_link
    next_link = re.search(r'href="\?([^"]*page=2)">Next', first).group(1).replace("&amp;", "&")
    assert "device=mobile" in next_link and "code=loyal" in next_link
    second = client.get(reverse("segments:members") + "?" + next_link).content.decode()
    shown = len(re.findall(r"<tr><td>C\d+</td>", first)) + len(re.findall(r"<tr><td>C\d+</td>", second))
    expected = CustomerProfile.objects.filter(
        region=segmented.region_a, value_group="loyal", customer__device="mobile"
    ).count()
    assert shown == expected > 50


# --- personas ------------------------------------------------------------------------------------------------------


def test_personas_honour_each_filter(segmented):
    """Unfiltered, the sizes the rebuild kept; filtered, the filtered customers of each persona."""
    client = login_through_form(segmented.manager_a.username)
    profiles = CustomerProfile.objects.filter(region=segmented.region_a)
    for params in FILTERS:
        rows = base.export(client, reverse("segments:personas"), params)
        assert {r[0] for r in rows} == {"NORTH"}
        sizes = {r[1]: int(r[2]) for r in rows}
        kept = profiles.filter(customer_id__in=_kept(segmented, params))
        assert sizes == {p: kept.filter(persona=p).count() for p in PERSONAS}, params
        _changes(params, sum(sizes.values()), profiles.count())
        body = client.get(reverse("segments:personas"), params).content.decode()
        assert f"k = 3, {sum(sizes.values())} customers" in body, params
        assert ("Filtered: each persona" in body) == bool(params)


# --- transitions ---------------------------------------------------------------------------------------------------


def test_transitions_honour_each_filter(segmented):
    client = login_through_form(segmented.manager_a.username)
    snaps = ProfileSnapshot.objects.filter(region=segmented.region_a)
    for params in FILTERS:
        rows = base.export(client, reverse("segments:transitions"), params)
        kept = snaps.filter(customer_id__in=_kept(segmented, params))
        before = dict(kept.filter(month=dt.date(2024, 10, 1)).values_list("customer_id", "value_group"))
        after = dict(kept.filter(month=dt.date(2024, 11, 1)).values_list("customer_id", "value_group"))
        pairs = Counter((before[c], after[c]) for c in before)
        assert {(r[0], r[1]): int(r[2]) for r in rows} == dict(pairs), params
        _changes(params, sum(pairs.values()), snaps.filter(month=dt.date(2024, 10, 1)).count())


# --- executive -----------------------------------------------------------------------------------------------------


def _window(moments) -> dt.datetime:
    """The start of the rollup's trend window: five months before the month of the latest row."""
    latest = max(moments)
    month = latest.year * 12 + latest.month - 1 - 5
    return dt.datetime(month // 12, month % 12 + 1, 1, tzinfo=dt.UTC)


def _expected_conversion(world, params: dict) -> int:
    sessions = base.expected_sessions(world, params)
    start = _window(sessions.values_list("started_at", flat=True))
    return sessions.filter(started_at__gt=start).count()


def _expected_carts(world, params: dict) -> int:
    """Carts (a session's events) opened in the period, of a session on the device, with a product of the category,
    of a customer in the segment; counted in the trend window."""
    sessions = Session.objects.filter(region=world.region_a)
    if params.get("category"):
        sessions = sessions.filter(
            Exists(CartEvent.objects.filter(session=OuterRef("pk"), product__category=params["category"]))
        )
    if params.get("device"):
        sessions = sessions.filter(device=params["device"])
    if params.get("segment"):
        sessions = sessions.filter(customer_id__in=base._segment_customers(params))
    carts = CartEvent.objects.filter(session__in=sessions).values("session_id").annotate(opened=Min("occurred_at"))
    period = base._period_q(params, "opened")
    kept = list(carts.filter(period)) if period else list(carts)
    start = _window(c["opened"] for c in kept)
    return sum(1 for c in kept if c["opened"] > start)


def _expected_revenue(world, params: dict) -> float:
    orders = base.expected_orders(world, params)
    start = _window(orders.values_list("placed_at", flat=True))
    live = orders.filter(placed_at__gt=start).exclude(status__in=["cancelled", "returned"])
    return float(sum(o.total for o in live.filter(cancels__isnull=True)))


def test_executive_honours_each_filter(shop):
    client = login_through_form(shop.executive.username)
    unfiltered = None
    for params in FILTERS:
        response = client.get(reverse("portal:executive"), {**params, "region": "NORTH"})
        assert response.status_code == 200
        (north,) = response.context["rollup"]["regions"]
        figures = (
            sum(p["n"] for p in north["conversion_trend"]),
            sum(p["n"] for p in north["abandonment_trend"]),
            round(sum(p["value"] for p in north["revenue_trend"]), 2),
        )
        expected = (
            _expected_conversion(shop, params),
            _expected_carts(shop, params),
            round(_expected_revenue(shop, params), 2),
        )
        assert figures == expected, params
        unfiltered = unfiltered or figures
        if params:
            assert all(0 < f != u for f, u in zip(figures, unfiltered, strict=True)), params
            assert "Not applied on this page to revenue at risk" in response.content.decode()
            rows = base.export(client, reverse("portal:executive"), {**params, "region": "NORTH"})
            assert rows[0][:3] == ["NORTH", "North", north["currency"]] and rows[0][5:] == ["not filtered"] * 3


def test_executive_unfiltered_reads_its_kept_rollup(shop):
    """Without a filter the page shows the kept rollup (here emptied in the cache, with the current watermark);
    with a filter it computes its figures in the request."""
    from cartportal.pages import rollups
    from cartportal.portal.selectors.executive import _measured

    client = login_through_form(shop.executive.username)
    first = client.get(reverse("portal:executive")).context["rollup"]["regions"]
    assert all(r["conversion_trend"] for r in first)
    key = rollups._key(_measured.rollup_name, [shop.region_a.pk, shop.region_b.pk])  # the page asks for every region
    entry = rollups.cache.get(key)
    rollups.cache.set(key, {**entry, "value": ({}, {}, {})}, 600)
    kept = client.get(reverse("portal:executive")).context["rollup"]["regions"]
    assert all(r["conversion_trend"] == [] for r in kept)
    filtered = client.get(reverse("portal:executive"), {"device": "mobile"}).context["rollup"]
    assert filtered["filtered"] and all(r["conversion_trend"] for r in filtered["regions"])


# --- the address, validation and scope -----------------------------------------------------------------------------

PAGES = ["segments:members", "segments:personas", "segments:transitions"]


def test_bad_filter_values_answer_a_clear_message(segmented):
    manager = login_through_form(segmented.manager_a.username)
    executive = login_through_form(segmented.executive.username)
    for params, message in base.BAD_VALUES:
        for client, name in [*((manager, n) for n in PAGES), (executive, "portal:executive")]:
            for extra in ({}, {"format": "csv"}):
                response = client.get(reverse(name), {**params, **extra})
                assert response.status_code == 400, (name, params, extra)
                if not extra:
                    assert message in response.content.decode(), (name, params)


def test_filters_stay_in_the_address(segmented):
    client = login_through_form(segmented.manager_a.username)
    params = {"from": "2024-02-01", "category": "garden", "segment": "rfm:champions"}
    for name in PAGES:
        body = client.get(reverse(name), params).content.decode()
        assert 'value="2024-02-01"' in body and '<option value="garden" selected>' in body, name
        assert "from=2024-02-01&amp;category=garden&amp;segment=rfm%3Achampions" in body, name
    transitions = client.get(reverse("segments:transitions"), params).content.decode()
    assert '<input type="hidden" name="kind" value="value_group">' in transitions  # the segment kind survives
    executive = login_through_form(segmented.executive.username)
    body = executive.get(reverse("portal:executive"), params).content.decode()
    assert "from=2024-02-01&amp;category=garden&amp;segment=rfm%3Achampions&amp;format=csv" in body


def test_the_region_filter_never_widens_the_scope(segmented):
    client = login_through_form(segmented.manager_a.username)
    members = {"kind": "value_group", "code": "loyal"}
    own = base.export(client, reverse("segments:members"), members)
    assert base.export(client, reverse("segments:members"), {**members, "region": "SOUTH"}) == own
    assert own and {r[1] for r in own} == {"NORTH"}
    personas = base.export(client, reverse("segments:personas"), {"region": "SOUTH", "device": "mobile"})
    assert personas and {r[0] for r in personas} == {"NORTH"}
    own_moves = base.export(client, reverse("segments:transitions"), {})
    assert base.export(client, reverse("segments:transitions"), {"region": "SOUTH"}) == own_moves
    assert sum(int(r[2]) for r in own_moves) == CustomerProfile.objects.filter(region=segmented.region_a).count()
    assert client.get(reverse("portal:executive"), {"device": "mobile"}).status_code == 403
