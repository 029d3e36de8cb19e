"""Platform writes. Each takes the actor, runs in a transaction, checks the region and writes its audit row."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from cartportal.access import ensure_can, is_system
from cartportal.audit import record
from cartportal.erasure import Person, erasure_key_hash, redact_quarantine, redact_uploads
from cartportal.errors import DomainError, Forbidden  # noqa: F401  (raised and caught under this name by the apps)
from cartportal.models import Customer, ErasedCustomer, PartnerToken, Review

PERSONAL_FIELDS = ("name", "email", "age_band", "gender")


def customer_erase(*, actor, customer: Customer, reason: str = "GDPR erasure request") -> Customer:
    """Remove a customer's personal data everywhere; keep the row (pseudonymous) so aggregates,
    scores and the audit chain stay consistent. Consent is withdrawn so no later step uses them.

    Beyond the row: their shop id is remembered as a keyed hash so that no import creates them again, the
    quarantined raw rows that name them are redacted, and so are the uploads still on disk (cartportal/erasure.py).
    """
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        ensure_can(actor, "change", customer.region_id, what="customer")
        if customer.erased_at is not None:
            return customer
        person = Person(customer.external_id, customer.email, customer.name)
        ErasedCustomer.objects.get_or_create(
            key_hash=erasure_key_hash(customer.external_id),
            defaults={"region_id": customer.region_id, "erased_at": timezone.now()},
        )
        for field in PERSONAL_FIELDS:
            setattr(customer, field, "")
        customer.external_id = f"erased-{customer.pk}"
        customer.consent_marketing = False
        customer.consent_personalisation = False
        customer.erased_at = timezone.now()
        customer.save()
        Review.objects.filter(customer=customer).update(title="", text="")
        redacted = {"quarantined_rows_redacted": redact_quarantine(person), **redact_uploads(person)}
        ensure_can(actor, "change", customer.region_id, what="customer")
        record(
            actor=actor,
            action="customer.erased",
            object_type="customer",
            object_id=customer.pk,
            region_code=customer.region.code,
            after={"erased_fields": [*PERSONAL_FIELDS, "external_id", "review_text"], **redacted},
            reason=reason,
        )
    return customer


def customer_set_consent(
    *, actor, customer: Customer, marketing: bool | None = None, personalisation: bool | None = None
) -> Customer:
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        ensure_can(actor, "change", customer.region_id, what="customer")
        if customer.erased_at is not None:
            # Consent belongs to a person; an erased customer is no longer one that may be contacted.
            raise DomainError("This customer was erased; their consent cannot be changed.", code="conflict")
        before = {"marketing": customer.consent_marketing, "personalisation": customer.consent_personalisation}
        if marketing is not None:
            customer.consent_marketing = marketing
        if personalisation is not None:
            customer.consent_personalisation = personalisation
        customer.consent_updated_at = timezone.now()
        customer.save(update_fields=["consent_marketing", "consent_personalisation", "consent_updated_at"])
        record(
            actor=actor,
            action="customer.consent_changed",
            object_type="customer",
            object_id=customer.pk,
            region_code=customer.region.code,
            before=before,
            after={"marketing": customer.consent_marketing, "personalisation": customer.consent_personalisation},
        )
    return customer


def revoke_partner_token(*, actor, token: PartnerToken, reason: str = "") -> PartnerToken:
    """Revoke a partner token from now on (its owner, a superuser or a system actor may). Saved through the ORM, so
    the API's cached principals go stale and the token is refused on its very next request."""
    if not (is_system(actor) or getattr(actor, "is_superuser", False) or getattr(actor, "pk", None) == token.user_id):
        raise Forbidden("Only the token's owner or an administrator may revoke it.")
    with transaction.atomic():
        token = PartnerToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is None or token.revoked_at > timezone.now():
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            record(
                actor=actor,
                action="token.revoked",
                object_type="partner_token",
                object_id=token.pk,
                after={"name": token.name, "key_prefix": token.key_prefix},
                reason=reason,
            )
    return token
