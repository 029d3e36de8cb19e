from django import template

from cartportal.people import actor_names, person_label

register = template.Library()


@register.filter
def person(user) -> str:
    """A user by username, with the full name where set; "—" when nobody."""
    return person_label(user) if user is not None else "—"


@register.filter
def actor(label: str) -> str:
    """An audit-style actor (`user:7`) as the person's username and full name; other actors unchanged."""
    if not label:
        return "—"
    return actor_names([label])[label]
