""" "My paging": every staff member's own contact methods, notification rules, upcoming shifts
and personal calendar link, whatever their group. Only ever the signed-in person's rows: another
person's id answers 404. Writes go through the domain functions in `incidents.paging.personal`,
`incidents.paging.delivery` and `incidents.oncall.schedules`.
"""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from incidents.admin.notify import test_queued
from incidents.admin.rotation_edits import local_time
from incidents.core.choices import ChatProvider, ContactKind
from incidents.core.contacts import PERSON_KINDS, mask_address
from incidents.core.errors import DomainError
from incidents.models import ChatIdentity, ContactMethod, NotificationRule
from incidents.oncall import ical
from incidents.oncall import schedules as scheduling
from incidents.paging import delivery as notify
from incidents.paging import personal
from incidents.paging.actions import identities as chat_identities

AHEAD = timedelta(days=14)


PERSON_KIND_CHOICES = [(k, label) for k, label in ContactKind.choices if k in PERSON_KINDS]


class ContactMethodForm(forms.Form):
    kind = forms.ChoiceField(choices=PERSON_KIND_CHOICES)
    address = forms.CharField(
        max_length=1000,
        help_text="An email address, an http(s) URL, or an Apprise URL (ntfy://ntfy.sh/my-topic, "
        "tgram://bottoken/chat_id, twilio://SID:Token@+1from/+1to ...).",
    )
    label = forms.CharField(max_length=60, required=False)


class SavedContactMethodForm(ContactMethodForm):
    """Editing a saved method: its address is a secret, shown masked; empty keeps it."""

    def __init__(self, *args, method: ContactMethod, **kwargs):
        super().__init__(*args, **kwargs)
        self.method = method
        masked = mask_address(method.address)
        field = self.fields["address"]
        field.required = False
        field.widget.attrs.update({"placeholder": masked, "autocomplete": "off"})
        field.help_text = f"Saved: {masked}. Type a new address to replace it; empty keeps it."

    def clean_address(self):
        return self.cleaned_data.get("address") or self.method.address


class NewContactMethodForm(ContactMethodForm):
    notify_after_minutes = forms.IntegerField(
        label="Also use it after (minutes)",
        required=False,
        min_value=0,
        max_value=24 * 60,
        help_text="Optional: adds a rule using this method that long after a page.",
    )


class RuleForm(forms.Form):
    contact_method = forms.ModelChoiceField(queryset=ContactMethod.objects.none())
    delay_minutes = forms.IntegerField(
        label="After (minutes)",
        min_value=0,
        max_value=24 * 60,
        initial=0,
        help_text="How long after a page, if still unacknowledged.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = user
        self.fields["contact_method"].queryset = ContactMethod.objects.filter(user=user)


class ChatIdentityForm(forms.Form):
    provider = forms.ChoiceField(choices=ChatProvider.choices, label="Chat")
    external_id = forms.CharField(
        max_length=chat_identities.MAX_EXTERNAL_ID,
        label="Chat user id",
        help_text="Slack: your profile, ⋮, Copy member ID (U0123ABCD). Mattermost: Profile, ⋮, "
        "Copy user ID (26 characters).",
    )


def _refusal(form, error: DomainError) -> None:
    aliases = {"delay": "delay_minutes", "notify_after_seconds": "notify_after_minutes"}
    name = aliases.get(error.field, error.field)
    form.add_error(name if name in form.fields else None, error.message)


def _done(request, message: str):
    messages.success(request, message)
    return HttpResponseRedirect(reverse("my-paging"))


def _page(request, template: str, **context):
    return TemplateResponse(
        request,
        f"admin/my_paging/{template}",
        {**admin.site.each_context(request), "title": "My paging", **context},
    )


def index(request, method_form=None, rule_form=None, identity_form=None):
    user = request.user
    methods = list(ContactMethod.objects.filter(user=user).order_by("id"))
    for method in methods:
        method.masked = mask_address(method.address)
    rules = list(
        NotificationRule.objects.filter(user=user)
        .select_related("contact_method")
        .order_by("order", "id")
    )
    now = timezone.now()
    shifts = [
        {
            "schedule": schedule,
            "start": local_time(shift.start, ZoneInfo(schedule.time_zone)),
            "end": local_time(shift.end, ZoneInfo(schedule.time_zone)),
            "now": shift.start <= now,
            # Cut at the ends of the window looked at: it began earlier or lasts longer.
            "began_before": shift.start <= now - ical.LEAD_IN,
            "lasts_beyond": shift.end >= now + AHEAD + ical.LEAD_IN,
        }
        for schedule, shift in ical.person_shifts(user, now, AHEAD)
    ]
    return _page(
        request,
        "index.html",
        methods=methods,
        rules=rules,
        shifts=shifts,
        ahead_days=AHEAD.days,
        calendar_url=scheduling.user_calendar(user=user).ical_url,
        method_form=method_form or NewContactMethodForm(),
        rule_form=rule_form or RuleForm(user=user),
        identities=list(ChatIdentity.objects.filter(user=user).order_by("provider", "id")),
        identity_form=identity_form or ChatIdentityForm(),
    )


@require_POST
def method_add(request):
    form = NewContactMethodForm(request.POST)
    if form.is_valid():
        minutes = form.cleaned_data["notify_after_minutes"]
        try:
            method = personal.contact_method_add(
                user=request.user,
                actor=request.user,
                kind=form.cleaned_data["kind"],
                address=form.cleaned_data["address"],
                label=form.cleaned_data["label"],
                notify_after=None if minutes is None else timedelta(minutes=minutes),
            )
        except DomainError as error:
            _refusal(form, error)
        else:
            notice = notify.account_email_notice(request.user)
            if notice:
                messages.warning(request, notice)
            return _done(request, f"Added {method}.")
    return index(request, method_form=form)


def method_edit(request, pk: int):
    method = get_object_or_404(ContactMethod, pk=pk, user=request.user)
    initial = {"kind": method.kind, "label": method.label}
    form = SavedContactMethodForm(request.POST or None, initial=initial, method=method)
    if request.method == "POST" and form.is_valid():
        try:
            method = personal.contact_method_update(
                method=method, actor=request.user, **form.cleaned_data
            )
        except DomainError as error:
            _refusal(form, error)
        else:
            return _done(request, f"Saved {method}.")
    return _page(request, "edit.html", form=form, what=f"contact method {method}")


@require_POST
def method_test(request, pk: int):
    method = get_object_or_404(ContactMethod, pk=pk, user=request.user)
    row = personal.contact_method_test(method=method, actor=request.user)
    messages.success(request, test_queued(row))
    return HttpResponseRedirect(reverse("my-paging"))


@require_POST
def method_delete(request, pk: int):
    method = get_object_or_404(ContactMethod, pk=pk, user=request.user)
    personal.contact_method_delete(method=method, actor=request.user)
    return _done(request, f"Removed {method} and the rules using it.")


def _rule_saved(form: RuleForm, write, **target) -> bool:
    """Run the rule's domain function with the form's values; a refusal goes on the form."""
    try:
        write(
            contact_method=form.cleaned_data["contact_method"],
            delay=timedelta(minutes=form.cleaned_data["delay_minutes"]),
            actor=form.actor,
            **target,
        )
    except DomainError as error:
        _refusal(form, error)
        return False
    return True


@require_POST
def rule_add(request):
    form = RuleForm(request.POST, user=request.user)
    if form.is_valid() and _rule_saved(form, personal.notification_rule_create, user=request.user):
        return _done(request, "Added the rule.")
    return index(request, rule_form=form)


def rule_edit(request, pk: int):
    rule = get_object_or_404(NotificationRule, pk=pk, user=request.user)
    initial = {
        "contact_method": rule.contact_method_id,
        "delay_minutes": int(rule.delay.total_seconds() // 60),
    }
    form = RuleForm(request.POST or None, initial=initial, user=request.user)
    saved = request.method == "POST" and form.is_valid()
    if saved and _rule_saved(form, personal.notification_rule_update, rule=rule):
        return _done(request, "Saved the rule.")
    return _page(request, "edit.html", form=form, what="notification rule")


@require_POST
def rule_delete(request, pk: int):
    rule = get_object_or_404(NotificationRule, pk=pk, user=request.user)
    personal.notification_rule_delete(rule=rule, actor=request.user)
    return _done(request, "Removed the rule.")


@require_POST
def calendar_rotate(request):
    calendar = scheduling.user_calendar_rotate(user=request.user, actor=request.user)
    return _done(request, f"New calendar link: {calendar.ical_url} (the old one no longer works).")


@require_POST
def chat_identity_add(request):
    form = ChatIdentityForm(request.POST)
    if form.is_valid():
        try:
            identity = chat_identities.chat_identity_add(
                user=request.user, actor=request.user, **form.cleaned_data
            )
        except DomainError as error:
            _refusal(form, error)
        else:
            return _done(request, f"Linked {identity}.")
    return index(request, identity_form=form)


@require_POST
def chat_identity_delete(request, pk: int):
    identity = get_object_or_404(ChatIdentity, pk=pk, user=request.user)
    chat_identities.chat_identity_remove(identity=identity, actor=request.user)
    return _done(request, f"Unlinked {identity}.")


def _staff(view):
    return admin.site.admin_view(view)


urlpatterns = [
    path("", _staff(index), name="my-paging"),
    path("methods/add/", _staff(method_add), name="my-paging-method-add"),
    path("methods/<int:pk>/", _staff(method_edit), name="my-paging-method-edit"),
    path("methods/<int:pk>/test/", _staff(method_test), name="my-paging-method-test"),
    path("methods/<int:pk>/delete/", _staff(method_delete), name="my-paging-method-delete"),
    path("rules/add/", _staff(rule_add), name="my-paging-rule-add"),
    path("rules/<int:pk>/", _staff(rule_edit), name="my-paging-rule-edit"),
    path("rules/<int:pk>/delete/", _staff(rule_delete), name="my-paging-rule-delete"),
    path("chat/add/", _staff(chat_identity_add), name="my-paging-chat-identity-add"),
    path(
        "chat/<int:pk>/delete/", _staff(chat_identity_delete), name="my-paging-chat-identity-delete"
    ),
    path("calendar/rotate/", _staff(calendar_rotate), name="my-paging-calendar-rotate"),
]
