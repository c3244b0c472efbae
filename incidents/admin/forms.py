from django import forms

from incidents.core.choices import IncidentStatus, UpdateStatus
from incidents.core.validators import validate_single_line
from incidents.models import Incident


class IncidentAddForm(forms.ModelForm):
    """Opening an incident: the start time defaults to now, when it was noticed."""

    class Meta:
        model = Incident
        fields = ["title", "severity", "services", "commander", "summary", "impact", "started_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["started_at"].required = False
        self.fields["started_at"].help_text = "When the problem began. Leave empty for now."


class MoveForm(forms.Form):
    to = forms.ChoiceField(choices=IncidentStatus.choices)
    reason = forms.CharField(required=False, max_length=2000)


class PostUpdateForm(forms.Form):
    status = forms.ChoiceField(
        choices=UpdateStatus.choices,
        help_text="Posting moves the incident to this status if it is elsewhere.",
    )
    public = forms.BooleanField(
        required=False, help_text="Public updates appear on the status page for customers."
    )
    public_title = forms.CharField(
        required=False,
        max_length=255,
        validators=[validate_single_line],
        help_text="Public updates only: the incident's title on the status page. Left empty, "
        "customers see a neutral title; the internal title is never shown to them.",
    )
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 14, "cols": 90}))
    # A public update is shown as customers will see it, then published on confirmation.
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)
