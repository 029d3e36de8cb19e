from celery import shared_task

from cartportal.audit.anchors import publish_anchor


@shared_task(name="cartportal.audit_anchor")
def publish_audit_anchor() -> dict | None:
    """Beat: publish the audit chain's head outside the database (CARTPORTAL_AUDIT_ANCHOR_SECONDS)."""
    return publish_anchor()
