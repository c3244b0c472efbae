from django import forms

from incidents.statuspage.selectors import public_services


class SubscribeForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    services = forms.ModelMultipleChoiceField(
        queryset=public_services(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to hear about every service.",
    )
