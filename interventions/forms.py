from django import forms

from interventions.catalogue import CATALOGUE


class CampaignDraftForm(forms.Form):
    region = forms.ChoiceField(help_text="A region you may change")
    name = forms.CharField(max_length=200)
    intervention = forms.ChoiceField(choices=[(c, i.name) for c, i in CATALOGUE.items()])
    more_arms = forms.MultipleChoiceField(
        choices=[(c, i.name) for c, i in CATALOGUE.items()],
        required=False,
        help_text="Further interventions to test against each other (each is an arm beside the holdout)",
    )
    allocation = forms.ChoiceField(
        choices=[("thompson", "Thompson sampling on the arms' outcomes"), ("uniform", "Fixed uniform split")]
    )
    audience = forms.CharField(
        max_length=200,
        help_text="A saved audience: value_group:CODE, rfm:CODE, strategy:ID[:SEGMENT], at_risk[:THRESHOLD] or list:ID",
    )
    holdout_share = forms.FloatField(min_value=0.0, max_value=0.9, initial=0.1)
    webhook_url = forms.URLField(
        required=False, assume_scheme="https", help_text="Optional: a partner's HTTPS endpoint to push assignments to"
    )

    def __init__(self, *args, regions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [(r.code, f"{r.code} — {r.name}") for r in regions]
        self.fields["audience"].widget.attrs["list"] = "audience-choices"

    def arms(self) -> list[str]:
        return list(dict.fromkeys([self.cleaned_data["intervention"], *self.cleaned_data["more_arms"]]))


class DecisionForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=2000, help_text="Recorded in the audit trail"
    )


class KillSwitchForm(forms.Form):
    region = forms.ChoiceField(required=False, help_text="Empty: every region")
    engaged = forms.TypedChoiceField(
        choices=[("1", "Engage"), ("0", "Release")], coerce=lambda v: v == "1", label="Action"
    )
    reason = forms.CharField(max_length=2000, help_text="Recorded in the audit trail")

    def __init__(self, *args, regions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [("", "All regions")] + [(r.code, f"{r.code} — {r.name}") for r in regions]
