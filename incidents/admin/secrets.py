"""Write-only addresses in the admin: a webhook URL is its own credential.

An address is shown in full once, in the message right after it is saved; afterwards everyone
sees it masked, and its field replaces it (left empty, the saved address is kept).
"""

from django import forms
from django.contrib import admin, messages

from incidents.core.contacts import check_contact_address, check_person_contact, mask_address
from incidents.core.errors import DomainError


class SecretAddressForm(forms.ModelForm):
    """A model form with `kind` and `address`; the address is checked by the outbound policy.
    With `person`, only the kinds a person's own contact method may have."""

    person = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields.get("address")
        if field is None or not self.instance.pk:
            return
        masked = mask_address(self.instance.address)
        self.initial["address"] = ""
        field.required = False
        field.widget.attrs.update({"placeholder": masked, "autocomplete": "off"})
        field.help_text = f"Saved: {masked}. Type a new address to replace it; empty keeps it."

    def clean(self):
        data = super().clean()
        if self.instance.pk and not data.get("address"):
            data["address"] = self.instance.address
        if data.get("kind") and data.get("address"):
            try:
                check = check_person_contact if self.person else check_contact_address
                check(data["kind"], data["address"])
            except DomainError as error:
                self.add_error("kind" if error.field == "kind" else "address", error.message)
        return data

    @property
    def new_address(self) -> str | None:
        """The address typed into this form, to show once; None when it was kept."""
        if "address" in self.changed_data and self.cleaned_data.get("address"):
            return self.cleaned_data["address"]
        return None


def announce_saved(request, what: str, form: SecretAddressForm) -> None:
    """Show a just-saved address in full, the one time it is shown."""
    if form.new_address:
        messages.info(
            request,
            f"The address of {what} is {form.new_address}. It is shown masked from now on: "
            "to change it, replace it.",
        )


def announce_saved_formset(request, formset) -> None:
    for form in formset.forms:
        if isinstance(form, SecretAddressForm) and form not in formset.deleted_forms:
            announce_saved(request, str(form.instance), form)


@admin.display(description="address")
def masked_address(obj) -> str:
    return mask_address(obj.address)


class MaskedForViewers:
    """For those who may only view (to whom the admin shows every field as it is stored), the
    address is replaced by its masked form. Mixed into model admins and inlines."""

    masked_address = staticmethod(masked_address)

    def _view_only(self, request, obj) -> bool:
        return not self.has_change_permission(request, obj)

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if self._view_only(request, obj):
            return ["masked_address" if f == "address" else f for f in fields]
        return fields

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "masked_address") if self._view_only(request, obj) else fields


class SecretAddressAdmin(MaskedForViewers, admin.ModelAdmin):
    """Shows `masked_address` instead of the address, and the new address once after saving."""

    form = SecretAddressForm

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        announce_saved(request, str(obj), form)
