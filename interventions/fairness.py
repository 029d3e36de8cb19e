"""Fairness of offers across age bands and genders.

For each group (an age band, or a gender) the offer rate is the share of its customers who got an offer, and
the discount depth is the mean discount of the offers they got. Only customers whose band or gender is known
and who consented to personalisation are counted; the attribute is never used to make an offer, only to check
them afterwards. A group is flagged when its offer rate differs from the overall rate by more than
CARTPORTAL_FAIRNESS_TOLERANCE (absolute, default 0.1 = 10 percentage points), or its mean discount from the
overall mean by more than CARTPORTAL_FAIRNESS_DISCOUNT_TOLERANCE (absolute, default 0.02 = 2 points). Groups
smaller than CARTPORTAL_FAIRNESS_MIN_GROUP are shown but not judged (too few to tell).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.db.models import Avg, Exists, OuterRef, Q

from cartportal.models import Customer
from interventions.catalogue import CATALOGUE
from interventions.models import Assignment, Campaign, PromotionOffer

ATTRIBUTES = ("age_band", "gender")


def _judged(customers) -> list[dict]:
    """customers: rows with age_band, gender, offered (bool), discount (float | None)."""
    tolerance, depth_tolerance = settings.CARTPORTAL_FAIRNESS_TOLERANCE, settings.CARTPORTAL_FAIRNESS_DISCOUNT_TOLERANCE
    out = []
    for attribute in ATTRIBUTES:
        known = [c for c in customers if c[attribute]]
        if not known:
            continue
        overall_rate = sum(c["offered"] for c in known) / len(known)
        overall_depth = _mean([c["discount"] for c in known if c["offered"]])
        groups = defaultdict(list)
        for c in known:
            groups[c[attribute]].append(c)
        for value, members in sorted(groups.items()):
            rate = sum(m["offered"] for m in members) / len(members)
            depth = _mean([m["discount"] for m in members if m["offered"]])
            judged = len(members) >= settings.CARTPORTAL_FAIRNESS_MIN_GROUP
            reasons = []
            if judged and abs(rate - overall_rate) > tolerance:
                reasons.append(f"offer rate {rate:.2f} vs {overall_rate:.2f} overall")
            if (
                judged
                and depth is not None
                and overall_depth is not None
                and abs(depth - overall_depth) > depth_tolerance
            ):
                reasons.append(f"mean discount {depth:.3f} vs {overall_depth:.3f} overall")
            out.append(
                {
                    "attribute": attribute,
                    "group": value,
                    "customers": len(members),
                    "offer_rate": round(rate, 4),
                    "overall_offer_rate": round(overall_rate, 4),
                    "mean_discount": None if depth is None else round(depth, 4),
                    "overall_mean_discount": None if overall_depth is None else round(overall_depth, 4),
                    "judged": judged,
                    "flagged": bool(reasons),
                    "reasons": reasons,
                }
            )
    return out


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _population(user, region_ids: list[int] | None):
    qs = Customer.objects.restrict(user, "view").filter(erased_at__isnull=True, consent_personalisation=True)
    qs = qs.filter(~Q(age_band="") | ~Q(gender=""))
    return qs if region_ids is None else qs.filter(region_id__in=region_ids)


def promotion_fairness(user, *, region_ids: list[int] | None = None, week: dt.date | None = None) -> list[dict]:
    """Offer rate and mean discount of one week's promotions per age band and gender."""
    if week is None:
        return []
    offers = PromotionOffer.objects.filter(customer=OuterRef("pk"), week_start=week)
    rows = _population(user, region_ids).annotate(
        offered=Exists(offers),
        discount=Avg("promotion_offers__discount_rate", filter=Q(promotion_offers__week_start=week)),
    )
    return _judged(list(rows.values("age_band", "gender", "offered", "discount")))


def campaign_fairness(user, campaign: Campaign) -> list[dict]:
    """Share of the campaign region's customers who were sent the campaign (treated arm), per age band and
    gender; the discount is the intervention's stated discount."""
    treated = Assignment.objects.filter(campaign=campaign, customer=OuterRef("pk"), holdout=False)
    rows = _population(user, [campaign.region_id]).annotate(offered=Exists(treated))
    item = CATALOGUE.get(campaign.intervention)
    discount = item.discount_rate if item else None
    return _judged([{**r, "discount": discount} for r in rows.values("age_band", "gender", "offered")])
