from django import template

from cartportal.people import person_label

register = template.Library()


@register.filter
def person(user) -> str:
    """A user by username, with the full name where set; "—" when nobody."""
    return person_label(user) if user is not None else "—"
