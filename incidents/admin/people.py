"""People pickers (author, reviewers, owner, paged user) for everyone who may edit the form.

Django's autocomplete asks for view permission on the user admin, which only superusers hold
here: for everyone else the picker said "The results could not be loaded". This search answers
whoever may add or change the object that holds the field, and tells them only what the picker
shows (a name and a username), never the rest of a user's record.
"""

from django.apps import apps
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.urls import reverse

from incidents.core.formatting import person_label

URL_NAME = "admin-people-search"
SEARCH_FIELDS = ("username", "first_name", "last_name")


def _is_people_field(db_field) -> bool:
    remote = getattr(db_field.remote_field, "model", None)
    return remote is get_user_model()


class PeopleSearchView(AutocompleteJsonView):
    def process_request(self, request):
        try:
            model = apps.get_model(request.GET["app_label"], request.GET["model_name"])
            field = model._meta.get_field(request.GET["field_name"])
        except (KeyError, LookupError, FieldDoesNotExist) as error:
            raise PermissionDenied from error
        if not _is_people_field(field):
            raise PermissionDenied
        self.source_model = model
        return request.GET.get("term", ""), None, field, get_user_model()._meta.pk.attname

    def has_perm(self, request, obj=None):
        opts = self.source_model._meta
        return any(
            request.user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")
            for action in ("add", "change")
        )

    def get_queryset(self):
        people = (
            get_user_model()
            .objects.filter(is_active=True)
            .complex_filter(self.source_field.get_limit_choices_to())
            .order_by("first_name", "last_name", "username")
        )
        for word in self.term.split():
            people = people.filter(
                Q.create([(f"{name}__icontains", word) for name in SEARCH_FIELDS], Q.OR)
            )
        return people

    def get_paginator(self, *args, **kwargs):
        return Paginator(*args, **kwargs)

    def serialize_result(self, obj, to_field_name):
        return {"id": str(getattr(obj, to_field_name)), "text": person_label(obj)}


class PeopleSelect(AutocompleteSelect):
    def get_url(self):
        return reverse(URL_NAME)


class PeopleSelectMultiple(AutocompleteSelectMultiple):
    def get_url(self):
        return reverse(URL_NAME)


class PeoplePickers:
    """For a ModelAdmin or an inline: its autocomplete fields naming people use the search above."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return self._people(
            db_field, request, PeopleSelect, kwargs, super().formfield_for_foreignkey
        )

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return self._people(
            db_field, request, PeopleSelectMultiple, kwargs, super().formfield_for_manytomany
        )

    def _people(self, db_field, request, widget, kwargs, make):
        is_picker = _is_people_field(db_field) and db_field.name in self.get_autocomplete_fields(
            request
        )
        if is_picker and "widget" not in kwargs:
            kwargs["widget"] = widget(db_field, self.admin_site, using=kwargs.get("using"))
        formfield = make(db_field, request, **kwargs)
        if is_picker and formfield is not None:
            formfield.label_from_instance = person_label
        return formfield
