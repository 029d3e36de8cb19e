"""Filter forms: bad input becomes a message on the page, never an error response."""

from __future__ import annotations

from django import forms

from cartportal.access import visible_regions

from .selectors.audit import AuditFilters


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=128, help_text="a username, user:7, task:rescore, command:…")
    action = forms.CharField(required=False, max_length=64, help_text="campaign.approved, or a prefix: campaign.")
    region = forms.ChoiceField(required=False)
    object = forms.CharField(required=False, max_length=200, help_text="campaign:1, a type, or an id")
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [("", "Any region")] + [
            (r.code, f"{r.code} — {r.name}") for r in visible_regions(user)
        ]

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError("The start date is after the end date.")
        return data

    def filters(self) -> AuditFilters | None:
        """The filters to apply, or None when the form has errors (the page then lists nothing)."""
        if not self.is_valid():
            return None
        return AuditFilters(**{k: v for k, v in self.cleaned_data.items() if v not in (None, "")})
