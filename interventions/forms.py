from django import forms

from interventions.catalogue import CATALOGUE


class CampaignDraftForm(forms.Form):
    region = forms.ChoiceField(help_text="A region you may change")
    name = forms.CharField(max_length=200)
    intervention = forms.ChoiceField(choices=[(c, i.name) for c, i in CATALOGUE.items()])
    audience = forms.CharField(max_length=200, required=False, help_text="Audience segment label")
    holdout_share = forms.FloatField(min_value=0.0, max_value=0.9, initial=0.1)

    def __init__(self, *args, regions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [(r.code, f"{r.code} — {r.name}") for r in regions]


class DecisionForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=2000, help_text="Recorded in the audit trail"
    )
