"""Named personas shared by every test: a manager per region, an analyst, an executive, a compliance
officer, a partner with a token, a user holding only a model-level permission, and an anonymous user."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, Permission

from cartportal import access
from cartportal.models import PartnerToken, Region
from tests.factories import RegionFactory, UserFactory

PASSWORD = "correct-horse-battery"


@dataclass
class World:
    region_a: Region
    region_b: Region
    manager_a: object
    manager_b: object
    analyst_a: object
    executive: object
    compliance: object
    partner: object
    partner_token_key: str
    partner_token: PartnerToken
    model_perm_only: object
    anonymous: AnonymousUser

    def principals(self) -> dict[str, object]:
        return {
            "anonymous": self.anonymous,
            "manager_a": self.manager_a,
            "manager_b": self.manager_b,
            "analyst_a": self.analyst_a,
            "executive": self.executive,
            "compliance": self.compliance,
            "partner": self.partner,
            "model_perm_only": self.model_perm_only,
        }


def build_world() -> World:
    access.ensure_role_groups()
    region_a = RegionFactory(code="NORTH", name="North")
    region_b = RegionFactory(code="SOUTH", name="South")
    manager_a = UserFactory(username="manager_north", roles=[access.REGIONAL_MANAGER])
    manager_b = UserFactory(username="manager_south", roles=[access.REGIONAL_MANAGER])
    analyst_a = UserFactory(username="analyst_north", roles=[access.ANALYST])
    access.grant_region(manager_a, region_a, access.REGIONAL_MANAGER)
    access.grant_region(manager_b, region_b, access.REGIONAL_MANAGER)
    access.grant_region(analyst_a, region_a, access.ANALYST)
    executive = UserFactory(username="executive", roles=[access.EXECUTIVE])
    compliance = UserFactory(username="compliance", roles=[access.COMPLIANCE])
    partner = UserFactory(username="partner_north", roles=[access.PARTNER])
    access.grant_region(partner, region_a, access.PARTNER)
    key = PartnerToken.new_key()
    token = PartnerToken.objects.create(
        name="north-partner",
        user=partner,
        scopes=["read", "write"],
        key_prefix=key[:10],
        key_hash=PartnerToken.hash_key(key),
    )
    token.regions.set([region_a])
    model_perm_only = UserFactory(username="model_perm_only")
    model_perm_only.user_permissions.add(
        *Permission.objects.filter(codename__in=[p for p in access.ACTION_PERMS.values()])
    )
    return World(
        region_a,
        region_b,
        manager_a,
        manager_b,
        analyst_a,
        executive,
        compliance,
        partner,
        key,
        token,
        model_perm_only,
        AnonymousUser(),
    )


def login_through_form(username: str, password: str = PASSWORD):
    """A test client logged in the way a person logs in: through the login form (django-axes counts it)."""
    from django.test import Client
    from django.urls import reverse

    client = Client()
    response = client.post(reverse("login"), {"username": username, "password": password})
    assert response.status_code == 302, f"{username} could not log in"
    return client
