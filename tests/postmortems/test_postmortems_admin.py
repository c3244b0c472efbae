"""Post-mortem admin: lists, change page, actions, exports, starting one from an incident."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.core import lifecycle
from incidents.models import TimelineEvent
from postmortems.models import ActionItem, Postmortem
from postmortems.services import action_item_create, postmortem_draft, postmortem_update
from tests.factories import UserFactory, make_incident

pytestmark = pytest.mark.django_db


def _postmortems(n: int, service) -> list[Postmortem]:
    owner = UserFactory(username="owner")
    made = []
    for i in range(n):
        incident = make_incident(title=f"Incident {i}", severity_key="P1", services=[service])
        lifecycle.incident_resolve(incident=incident)
        postmortem, _ = postmortem_draft(incident=incident)
        action_item_create(
            postmortem=postmortem,
            title=f"Fix {i}",
            owner=owner,
            due_date=timezone.localdate() - timedelta(days=1),
        )
        made.append(postmortem)
    return made


@pytest.fixture
def postmortem(service):
    return _postmortems(1, service)[0]


@pytest.mark.parametrize("size", [5, 50])
@pytest.mark.parametrize(
    "url",
    [
        "/admin/postmortems/postmortem/",
        "/admin/postmortems/postmortem/?overdue=yes&required__exact=1",
        "/admin/postmortems/actionitem/",
        "/admin/postmortems/actionitem/?overdue=yes&mine=yes",
    ],
)
def test_changelists_run_a_fixed_number_of_queries(
    admin_client, service, size, url, django_assert_max_num_queries
):
    _postmortems(size, service)
    admin_client.get(url)
    with django_assert_max_num_queries(10):
        page = admin_client.get(url)
    assert page.status_code == 200


def test_change_page_shows_status_moves_and_export_buttons(admin_client, postmortem):
    page = admin_client.get(f"/admin/postmortems/postmortem/{postmortem.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Export Markdown" in html
    assert f"/admin/postmortems/postmortem/{postmortem.pk}/print/" in html
    assert 'value="in_review"' in html
    assert "Fix 0" in html  # the action item inline


def test_move_buttons_go_through_the_domain_and_refuse_an_incomplete_publish(
    admin_client, postmortem
):
    move = f"/admin/postmortems/postmortem/{postmortem.pk}/move/"
    admin_client.post(move, {"to": "in_review"})
    postmortem.refresh_from_db()
    assert postmortem.status == "in_review"

    page = admin_client.post(move, {"to": "published"}, follow=True)
    postmortem.refresh_from_db()
    assert postmortem.status == "in_review"
    assert "Fill in the summary before publishing." in page.content.decode()

    postmortem_update(postmortem=postmortem, summary="Deploy.", root_cause="Config.")
    admin_client.post(move, {"to": "published"})
    postmortem.refresh_from_db()
    assert postmortem.status == "published"
    assert TimelineEvent.objects.filter(
        incident=postmortem.incident, kind="postmortem", message__contains="to published"
    ).exists()


def test_publish_action_needs_the_publish_permission(client, responder, postmortem):
    client.force_login(responder)
    postmortem_update(postmortem=postmortem, summary="Deploy.", root_cause="Config.")
    client.post(f"/admin/postmortems/postmortem/{postmortem.pk}/move/", {"to": "in_review"})
    answer = client.post(
        f"/admin/postmortems/postmortem/{postmortem.pk}/move/", {"to": "published"}
    )
    assert answer.status_code == 403
    postmortem.refresh_from_db()
    assert postmortem.status == "in_review"


def test_bulk_actions_move_selected_postmortems(admin_client, service):
    made = _postmortems(3, service)
    answer = admin_client.post(
        "/admin/postmortems/postmortem/",
        {"action": "submit_for_review", "_selected_action": [p.pk for p in made]},
        follow=True,
    )
    assert "3 post-mortem(s) moved to in review." in answer.content.decode()
    assert set(Postmortem.objects.values_list("status", flat=True)) == {"in_review"}


def test_markdown_button_downloads_the_template(admin_client, postmortem):
    answer = admin_client.get(f"/admin/postmortems/postmortem/{postmortem.pk}/markdown/")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/markdown")
    assert answer["Content-Disposition"].startswith('attachment; filename="')
    assert answer.content.decode().startswith("# Post-Mortem: Incident 0")


def test_print_page_renders_the_postmortem_as_html(admin_client, postmortem):
    postmortem_update(postmortem=postmortem, root_cause="<script>alert(1)</script>")
    page = admin_client.get(f"/admin/postmortems/postmortem/{postmortem.pk}/print/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Post-Mortem: Incident 0</h1>" in html
    assert "<h2>Timeline (All times in UTC)</h2>" in html
    assert "<script>alert(1)</script>" not in html
    assert "postmortems/print.css" in html


def test_start_creates_an_optional_postmortem_once(admin_client, service):
    incident = make_incident(severity_key="P2", services=[service])
    answer = admin_client.post(f"/admin/postmortems/postmortem/start/{incident.pk}/")
    postmortem = Postmortem.objects.get(incident=incident)
    assert answer.status_code == 302
    assert answer["Location"].endswith(f"/admin/postmortems/postmortem/{postmortem.pk}/change/")
    admin_client.post(f"/admin/postmortems/postmortem/start/{incident.pk}/")
    assert Postmortem.objects.filter(incident=incident).count() == 1
    assert (
        admin_client.get(f"/admin/postmortems/postmortem/start/{incident.pk}/").status_code == 405
    )


def test_viewer_cannot_start_a_postmortem(client, viewer, service):
    client.force_login(viewer)
    incident = make_incident(severity_key="P2", services=[service])
    assert client.post(f"/admin/postmortems/postmortem/start/{incident.pk}/").status_code == 403
    assert not Postmortem.objects.exists()


def test_published_postmortem_is_read_only(admin_client, postmortem):
    postmortem_update(postmortem=postmortem, summary="Deploy.", root_cause="Config.")
    admin_client.post(f"/admin/postmortems/postmortem/{postmortem.pk}/move/", {"to": "in_review"})
    admin_client.post(f"/admin/postmortems/postmortem/{postmortem.pk}/move/", {"to": "published"})
    page = admin_client.get(f"/admin/postmortems/postmortem/{postmortem.pk}/change/")
    assert page.status_code == 200
    assert '<textarea name="summary"' not in page.content.decode()
    assert 'value="draft"' in page.content.decode()  # can still be moved back to draft


def test_mark_done_action_on_action_items(admin_client, postmortem):
    item = ActionItem.objects.get(postmortem=postmortem)
    admin_client.post(
        "/admin/postmortems/actionitem/", {"action": "mark_done", "_selected_action": [item.pk]}
    )
    item.refresh_from_db()
    assert item.status == "done"
    assert item.completed_at is not None


def test_add_and_change_pages_of_action_items_and_categories(admin_client, postmortem):
    item = ActionItem.objects.get(postmortem=postmortem)
    assert admin_client.get(f"/admin/postmortems/actionitem/{item.pk}/change/").status_code == 200
    assert admin_client.get("/admin/postmortems/actionitem/add/").status_code == 200
    assert admin_client.get("/admin/postmortems/rootcausecategory/").status_code == 200
    assert admin_client.get("/admin/postmortems/rootcausecategory/add/").status_code == 200


def test_add_page_starts_a_postmortem_for_the_chosen_incident(admin_client, service):
    incident = make_incident(title="Image uploads failing", severity_key="P2", services=[service])
    lifecycle.incident_resolve(incident=incident)
    assert admin_client.get("/admin/postmortems/postmortem/add/").status_code == 200
    answer = admin_client.post(
        "/admin/postmortems/postmortem/add/", {"incident": incident.pk, "_continue": "1"}
    )
    postmortem = Postmortem.objects.get(incident=incident)
    assert answer.status_code == 302
    assert answer["Location"].endswith(f"/admin/postmortems/postmortem/{postmortem.pk}/change/")
    assert postmortem.due_at is not None  # drafted by the domain: P2's 7 days from resolution
    assert TimelineEvent.objects.filter(incident=incident, kind="postmortem").count() == 1

    again = admin_client.post("/admin/postmortems/postmortem/add/", {"incident": incident.pk})
    assert again.status_code == 200  # the form refuses a second one
    assert Postmortem.objects.filter(incident=incident).count() == 1


def test_marking_an_action_item_done_in_its_form_stamps_completed_at(admin_client, postmortem):
    item = action_item_create(postmortem=postmortem, title="Add a pool alert")
    url = f"/admin/postmortems/actionitem/{item.pk}/change/"
    form = {
        "postmortem": str(item.postmortem_id),
        "title": item.title,
        "owner": "",
        "due_date": "",
        "priority": item.priority,
        "status": "done",
        "tracker_url": "",
    }
    assert admin_client.post(url, form).status_code == 302
    item.refresh_from_db()
    assert item.status == "done" and item.completed_at is not None
    reopened = admin_client.post(url, {**form, "status": "open"})
    assert reopened.status_code == 302
    item.refresh_from_db()
    assert item.completed_at is None
    assert ActionItem.objects.filter(title="Add a pool alert").count() == 1
