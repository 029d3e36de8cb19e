import pytest

from cartportal.access import NotFoundOrForbidden, get_scoped_or_404, region_ids_for
from cartportal.models import AuditEvent, Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_region_ids_per_persona(world):
    a, b = world.region_a.id, world.region_b.id
    assert region_ids_for(world.manager_a, "view") == [a]
    assert region_ids_for(world.manager_b, "approve") == [b]
    assert region_ids_for(world.analyst_a, "approve") == []
    assert region_ids_for(world.executive, "view") is None
    assert region_ids_for(world.compliance, "view") is None
    assert region_ids_for(world.compliance, "change") == []
    assert region_ids_for(world.model_perm_only, "view") == []
    assert region_ids_for(world.anonymous, "view") == []


def test_restrict_filters_rows_by_region(world):
    own = CustomerFactory(region=world.region_a)
    foreign = CustomerFactory(region=world.region_b)
    assert list(Customer.objects.restrict(world.manager_a)) == [own]
    assert set(Customer.objects.restrict(world.executive)) == {own, foreign}
    assert Customer.objects.restrict(world.model_perm_only).count() == 0
    assert Customer.objects.restrict(world.anonymous).count() == 0


def test_foreign_object_answers_like_missing_and_is_audited(world):
    foreign = CustomerFactory(region=world.region_b)
    before = AuditEvent.objects.count()
    with pytest.raises(NotFoundOrForbidden) as foreign_exc:
        get_scoped_or_404(Customer.objects, world.manager_a, pk=foreign.pk)
    with pytest.raises(NotFoundOrForbidden) as missing_exc:
        get_scoped_or_404(Customer.objects, world.manager_a, pk=foreign.pk + 1000)
    assert str(foreign_exc.value) == str(missing_exc.value)
    denied = AuditEvent.objects.filter(action="access.denied")
    assert AuditEvent.objects.count() == before + 1
    assert denied.get().actor == f"user:{world.manager_a.pk}"


def test_partner_token_narrows_to_token_regions(world):
    world.partner.partner_token = world.partner_token
    assert region_ids_for(world.partner, "view") == [world.region_a.id]
    world.partner_token.regions.set([])
    world.partner.__dict__.pop("_cp_region_cache")
    assert region_ids_for(world.partner, "view") == []
