"""Demo users and regions for the portal (`manage.py seed_demo`). Data sets are loaded by the
ingestion loaders from CARTPORTAL_DATA_DIR when it is set, otherwise by the seeded generator."""

from __future__ import annotations

from collections import Counter

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count

from cartportal import access
from cartportal.models import CartEvent, Customer, Order, PartnerToken, Region, Session

DEMO_PASSWORD = "cartportal-demo"
DEFAULT_REGIONS = [("UK", "United Kingdom", "GBP"), ("DE", "Germany", "EUR"), ("FR", "France", "EUR")]


def ensure_demo_regions() -> list[Region]:
    if not Region.objects.exists():
        for code, name, currency in DEFAULT_REGIONS:
            Region.objects.create(code=code, name=name, currency=currency)
    return list(Region.objects.order_by("code"))


def regions_by_data() -> list[Region]:
    """Regions ordered by how much shop activity they hold (orders, sessions and cart events, then customers), so
    the demo's managers look after the regions where the data is, whatever the codes sort like."""
    activity, people = Counter(), Counter()
    for model in (Order, Session, CartEvent):
        activity.update(
            dict(model.objects.values_list("region_id").annotate(n=Count("pk")).values_list("region_id", "n"))
        )
    people.update(dict(Customer.objects.values_list("region_id").annotate(n=Count("pk")).values_list("region_id", "n")))
    regions = list(Region.objects.order_by("code"))
    return sorted(regions, key=lambda r: (-activity[r.pk], -people[r.pk], r.code))


@transaction.atomic
def ensure_demo_users() -> list[tuple[str, str, str]]:
    """Create one login per role; return (username, role, regions) rows for printing."""
    access.ensure_role_groups()
    regions = regions_by_data()
    User = get_user_model()
    rows = []

    def user(username: str, role: str, superuser: bool = False):
        obj, created = User.objects.get_or_create(username=username)
        if created:
            obj.set_password(DEMO_PASSWORD)
            obj.is_superuser = obj.is_staff = superuser
            obj.save()
        obj.groups.add(access.ensure_role_groups()[role])
        return obj

    user("admin", access.ADMIN, superuser=True)
    rows.append(("admin", "Admin", "all"))
    for region in regions[:2]:
        manager = user(f"manager_{region.code.lower()}", access.REGIONAL_MANAGER)
        access.grant_region(manager, region, access.REGIONAL_MANAGER)
        rows.append((manager.username, "RegionalManager", region.code))
    user("executive", access.EXECUTIVE)
    rows.append(("executive", "Executive", "all (read)"))
    user("compliance", access.COMPLIANCE)
    rows.append(("compliance", "Compliance", "all (read, audit)"))
    if regions:
        analyst = user("analyst", access.ANALYST)
        access.grant_region(analyst, regions[0], access.ANALYST)
        rows.append(("analyst", "Analyst", regions[0].code))
        partner = user("partner", access.PARTNER)
        access.grant_region(partner, regions[0], access.PARTNER)
        rows.append(("partner", "Partner (API token below)", regions[0].code))
    return rows


def ensure_demo_token() -> str | None:
    """A fresh partner token for the demo; only its hash is stored, so it is printed once."""
    User = get_user_model()
    partner = User.objects.filter(username="partner").first()
    if partner is None:
        return None
    PartnerToken.objects.filter(user=partner, name="demo").delete()
    key = PartnerToken.new_key()
    token = PartnerToken.objects.create(
        name="demo", user=partner, scopes=["read", "write"], key_prefix=key[:10], key_hash=PartnerToken.hash_key(key)
    )
    token.regions.set(access.visible_regions(partner, "view"))
    return key
