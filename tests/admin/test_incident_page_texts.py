"""Small things on the incident page: the link to its post-mortem and the timeline's wording."""

import pytest
from django.urls import reverse

from incidents.core import lifecycle
from incidents.core.choices import TimelineKind
from postmortems.services import postmortem_draft
from tests.factories import make_incident

pytestmark = pytest.mark.django_db


def _page(client, incident) -> str:
    answer = client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    assert answer.status_code == 200
    return answer.content.decode()


def test_incident_page_links_to_its_post_mortem(client, responder):
    incident = make_incident()
    lifecycle.incident_resolve(incident=incident)
    postmortem, _ = postmortem_draft(incident=incident)
    client.force_login(responder)
    url = reverse("admin:postmortems_postmortem_change", args=[postmortem.pk])
    assert f'<a href="{url}" class="tocsin-tool">Post-mortem (Draft)</a>' in _page(client, incident)


def test_resolved_incident_without_one_offers_to_start_it(client, responder):
    incident = make_incident()
    lifecycle.incident_resolve(incident=incident)
    incident.postmortem.delete()  # (resolving may draft one; here there is none)
    client.force_login(responder)
    start = f"{reverse('admin:postmortems_postmortem_add')}?incident={incident.pk}"
    assert f'href="{start}"' in _page(client, incident)


def test_open_incident_without_one_has_no_post_mortem_link(client, viewer, incident):
    client.force_login(viewer)
    html = _page(client, incident)
    assert "Post-mortem (" not in html and "Start the post-mortem" not in html


@pytest.mark.parametrize(
    ("public", "wording"), [(False, "posted an internal update"), (True, "posted a public update")]
)
def test_update_entries_read_as_english(incident, public, wording):
    lifecycle.status_update_post(incident=incident, message="Rolling back.", public=public)
    entry = incident.timeline.get(kind=TimelineKind.UPDATE)
    assert f"Tocsin {wording} (Investigating): Rolling back." == entry.message


def test_edit_entries_name_fields_as_the_form_does(incident):
    lifecycle.incident_update_details(
        incident=incident, public_title="Checkout errors", summary="Pool exhausted"
    )
    entry = incident.timeline.get(kind=TimelineKind.FIELD)
    assert entry.message == "Tocsin edited public title and summary."
