"""Runbooks in the admin: writing, reviewing, history with diffs, and the run checklist."""

import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from incidents.core.choices import TimelineKind
from runbooks.models import Runbook, RunbookRevision, RunbookRun, RunStepCheck
from runbooks.services import runbook_run_start, runbook_step_check
from tests.factories import ServiceFactory, make_incident, make_runbook

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/runbooks/runbook/"


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    # Production settings use the manifest storage, which needs collectstatic first.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def stale(runbook, days=400):
    Runbook.objects.filter(pk=runbook.pk).update(created_at=timezone.now() - timedelta(days=days))


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def change_data(runbook, **overrides):
    """The change form as the browser posts it, with the inlines' current rows."""
    data = {
        "title": runbook.title,
        "slug": runbook.slug,
        "services": [s.pk for s in runbook.services.all()],
        "owner": "",
        "symptoms": runbook.symptoms,
        "body": runbook.body,
        "review_every_days": runbook.review_every_days,
        "last_reviewed_at_0": "",
        "last_reviewed_at_1": "",
    }
    for prefix, rows, fields in (
        ("steps", runbook.steps.all(), ("order", "instruction", "command", "expected")),
        ("causes", runbook.causes.all(), ("order", "cause", "fix")),
        ("rules", runbook.rules.all(), ("kind", "key", "value", "weight")),
    ):
        rows = list(rows)
        data.update({f"{prefix}-TOTAL_FORMS": len(rows), f"{prefix}-INITIAL_FORMS": len(rows)})
        data.update({f"{prefix}-MIN_NUM_FORMS": 0, f"{prefix}-MAX_NUM_FORMS": 1000})
        for i, row in enumerate(rows):
            data[f"{prefix}-{i}-id"] = row.pk
            data[f"{prefix}-{i}-runbook"] = runbook.pk
            for name in fields:
                data[f"{prefix}-{i}-{name}"] = getattr(row, name)
    data.update(
        {
            "runs-TOTAL_FORMS": 0,
            "runs-INITIAL_FORMS": 0,
            "runs-MIN_NUM_FORMS": 0,
            "runs-MAX_NUM_FORMS": 0,
        }
    )
    data.update(overrides)
    return data


# --- runbook list -----------------------------------------------------------------------------


def test_changelist_shows_services_steps_and_review_state(admin_client, service):
    due = make_runbook(title="Database connection pool exhausted", services=[service])
    make_runbook(title="Redis unavailable", steps=["Ping"])
    stale(due)

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Database connection pool exhausted" in html and "Redis unavailable" in html
    assert "Needs review" in html
    assert re.search(r'class="field-step_count">3<', html)


def test_needs_review_filter(admin_client):
    due = make_runbook(title="Stale one")
    make_runbook(title="Fresh one")
    stale(due)

    needs = admin_client.get(CHANGELIST, {"review": "due"}).content.decode()
    ok = admin_client.get(CHANGELIST, {"review": "ok"}).content.decode()

    assert "Stale one" in needs and "Fresh one" not in needs
    assert "Fresh one" in ok and "Stale one" not in ok


def test_search_and_service_filter(admin_client):
    database = ServiceFactory(name="Database", slug="database")
    make_runbook(title="Pool", services=[database], symptoms="too many connections")
    make_runbook(title="Redis")

    assert "Redis" not in admin_client.get(CHANGELIST, {"q": "connections"}).content.decode()
    filtered = admin_client.get(CHANGELIST, {"services__id__exact": database.pk}).content.decode()
    assert ">Pool<" in filtered and ">Redis<" not in filtered


@pytest.mark.parametrize("rows", [5, 50])
def test_changelist_runs_a_fixed_number_of_queries(
    admin_client, rows, django_assert_max_num_queries
):
    services = [ServiceFactory(name=f"Service {n}", slug=f"s{n}") for n in range(3)]
    for n in range(rows):
        make_runbook(title=f"Runbook {n:02}", services=services[: n % 3 + 1])
    admin_client.get(CHANGELIST)  # warm the session and content types

    with django_assert_max_num_queries(9):
        response = admin_client.get(CHANGELIST, {"review": "due"})
    with django_assert_max_num_queries(9):
        response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    assert response.content.decode().count('class="field-step_count"') == rows


def test_mark_reviewed_action(admin_client):
    first, second = make_runbook(title="One"), make_runbook(title="Two")
    stale(first), stale(second)

    response = admin_client.post(
        CHANGELIST,
        {"action": "mark_reviewed", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )

    assert "Marked 2 runbooks as reviewed." in messages_of(response)
    assert not Runbook.objects.needs_review().exists()
    assert Runbook.objects.filter(last_reviewed_at__isnull=False).count() == 2


def test_mark_reviewed_needs_the_change_permission(client, responder):
    runbook = make_runbook()
    stale(runbook)
    client.force_login(responder)

    response = client.post(
        CHANGELIST, {"action": "mark_reviewed", "_selected_action": [runbook.pk]}
    )

    assert response.status_code == 200  # the changelist again: no such action for responders
    assert Runbook.objects.needs_review().exists()


# --- add and change pages ---------------------------------------------------------------------


def test_add_page_renders_and_creates_a_runbook_with_a_first_revision(admin_client):
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 200
    data = {
        "title": "Worker stuck",
        "slug": "worker-stuck",
        "symptoms": "Queue grows",
        "body": "",
        "review_every_days": 60,
        "steps-TOTAL_FORMS": 1,
        "steps-INITIAL_FORMS": 0,
        "steps-0-order": 1,
        "steps-0-instruction": "Inspect active tasks",
        "steps-0-command": "celery -A config inspect active",
        "causes-TOTAL_FORMS": 0,
        "causes-INITIAL_FORMS": 0,
        "rules-TOTAL_FORMS": 1,
        "rules-INITIAL_FORMS": 0,
        "rules-0-kind": "label_equals",
        "rules-0-key": "alertname",
        "rules-0-value": "QueueBacklog",
        "rules-0-weight": 10,
        "runs-TOTAL_FORMS": 0,
        "runs-INITIAL_FORMS": 0,
    }

    response = admin_client.post(f"{CHANGELIST}add/", data)

    assert response.status_code == 302, response.context["errors"]
    runbook = Runbook.objects.get(title="Worker stuck")
    assert runbook.steps.get().command == "celery -A config inspect active"
    revision = runbook.revisions.get()
    assert revision.number == 1 and revision.author.username == "admin"
    assert "alertname: QueueBacklog" in revision.text


def test_a_bad_regex_rule_is_refused_naming_the_field(admin_client):
    runbook = make_runbook(rules=[("label_matches", "alertname", "Pg.*", 8)])
    data = change_data(runbook, **{"rules-0-value": "Pg(("})

    response = admin_client.post(f"{CHANGELIST}{runbook.pk}/change/", data)

    assert response.status_code == 200
    assert "Not a valid regular expression" in response.content.decode()
    assert runbook.rules.get().value == "Pg.*"


def test_change_page_shows_the_rendered_body_without_scripts(admin_client):
    runbook = make_runbook(body="## Check\n\n```sql\nselect 1;\n```\n\n<script>alert('x')</script>")

    response = admin_client.get(f"{CHANGELIST}{runbook.pk}/change/")

    html = response.content.decode()
    assert response.status_code == 200
    assert '<pre><code class="language-sql">select 1;' in html
    assert "<script>alert('x')</script>" not in html
    assert "1 revision" in html


def test_editing_keeps_a_revision_only_when_something_changed(admin_client):
    runbook = make_runbook()
    url = f"{CHANGELIST}{runbook.pk}/change/"

    assert admin_client.post(url, change_data(runbook)).status_code == 302
    assert runbook.revisions.count() == 1

    data = change_data(runbook, **{"steps-1-instruction": "Terminate idle-in-transaction sessions"})
    assert admin_client.post(url, data).status_code == 302

    latest = runbook.revisions.order_by("-number").first()
    assert latest.number == 2
    assert latest.summary == "Edited in the admin: runbook steps"
    assert "Terminate idle-in-transaction sessions" in latest.text


def test_revision_page_shows_its_text_and_a_diff_against_the_current(admin_client):
    runbook = make_runbook()
    make_runbook(steps=["Check the pool", "Kill <idle> sessions", "Watch latency"])
    first = runbook.revisions.get(number=1)

    listing = admin_client.get(
        "/admin/runbooks/runbookrevision/", {"runbook__id__exact": runbook.pk}
    )
    page = admin_client.get(f"/admin/runbooks/runbookrevision/{first.pk}/change/")

    assert listing.status_code == 200 and "Imported" not in listing.content.decode()
    html = page.content.decode()
    assert page.status_code == 200
    assert '<span class="rb-diff__del">-  - instruction: Kill idle sessions</span>' in html
    assert '<span class="rb-diff__add">+  - instruction: Kill &lt;idle&gt; sessions</span>' in html
    latest = runbook.revisions.get(number=2)
    same = admin_client.get(f"/admin/runbooks/runbookrevision/{latest.pk}/change/")
    assert "Identical to the current runbook." in same.content.decode()


def test_revisions_cannot_be_added_or_edited(admin_client):
    runbook = make_runbook()
    revision = runbook.revisions.get()

    assert admin_client.get("/admin/runbooks/runbookrevision/add/").status_code == 403
    admin_client.post(f"/admin/runbooks/runbookrevision/{revision.pk}/change/", {"text": "x"})
    revision.refresh_from_db()
    assert revision.text != "x"


@pytest.mark.parametrize("rows", [5, 50])
def test_revision_and_run_lists_run_a_fixed_number_of_queries(
    admin_client, service, rows, django_assert_max_num_queries
):
    incident = make_incident(services=[service])
    for n in range(rows):
        runbook = make_runbook(title=f"Runbook {n:02}")
        run = runbook_run_start(runbook=runbook, incident=incident, actor=None)
        runbook_step_check(run=run, step=runbook.steps.first(), actor=None)
    admin_client.get("/admin/runbooks/runbookrun/")

    with django_assert_max_num_queries(8):
        runs = admin_client.get("/admin/runbooks/runbookrun/")
    with django_assert_max_num_queries(8):
        revisions = admin_client.get("/admin/runbooks/runbookrevision/")
    with django_assert_max_num_queries(8):
        checks = admin_client.get("/admin/runbooks/runstepcheck/")

    assert runs.content.decode().count('class="rb-progress__text">1/3<') == rows
    assert revisions.status_code == 200 and checks.status_code == 200


# --- runs: from the incident page to the checklist ---------------------------------------------


def test_incident_page_suggests_runbooks_and_offers_to_start_them(admin_client, incident, service):
    runbook = make_runbook(title="Checkout down", services=[service])

    html = admin_client.get(f"/admin/incidents/incident/{incident.pk}/change/").content.decode()

    assert "Checkout down" in html
    assert 'action="/admin/runbooks/runbookrun/start/"' in html
    assert f'name="runbook" value="{runbook.pk}"' in html


def test_start_creates_a_run_and_opens_its_checklist(client, responder, incident, service):
    runbook = make_runbook(title="Checkout down", services=[service])
    client.force_login(responder)

    response = client.post(
        "/admin/runbooks/runbookrun/start/", {"runbook": runbook.pk, "incident": incident.pk}
    )

    run = RunbookRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/runbooks/runbookrun/{run.pk}/checklist/"
    assert run.started_by == responder
    page = client.get(response["Location"]).content.decode()
    assert page.count('type="checkbox" name="step"') == 3
    assert "0/3" in page
    incident_page = client.get(f"/admin/incidents/incident/{incident.pk}/change/").content.decode()
    assert f"/admin/runbooks/runbookrun/{run.pk}/checklist/" in incident_page
    assert "0/3" in incident_page


def test_viewers_cannot_start_runbooks(client, viewer, incident, service):
    runbook = make_runbook(services=[service])
    client.force_login(viewer)

    page = client.get(f"/admin/incidents/incident/{incident.pk}/change/").content.decode()
    response = client.post(
        "/admin/runbooks/runbookrun/start/", {"runbook": runbook.pk, "incident": incident.pk}
    )

    assert "Start runbook" not in page
    assert response.status_code == 403
    assert not RunbookRun.objects.exists()


def test_start_answers_404_for_unknown_ids_and_405_for_get(admin_client, incident):
    runbook = make_runbook()
    start = "/admin/runbooks/runbookrun/start/"

    assert admin_client.get(start).status_code == 405
    assert admin_client.post(start, {"runbook": runbook.pk, "incident": 999999}).status_code == 404
    assert admin_client.post(start, {"runbook": "x", "incident": incident.pk}).status_code == 404


def test_ticking_steps_on_the_checklist_writes_the_timeline(client, responder, incident):
    runbook = make_runbook()
    run = runbook_run_start(runbook=runbook, incident=incident, actor=responder)
    first, second, third = runbook.steps.all()
    client.force_login(responder)
    url = f"/admin/runbooks/runbookrun/{run.pk}/checklist/"

    response = client.post(url, {"step": [first.pk, third.pk], f"note-{third.pk}": "p95 is back"})

    assert response.status_code == 302
    assert set(RunStepCheck.objects.values_list("step", "checked_by", "note")) == {
        (first.pk, responder.pk, ""),
        (third.pk, responder.pk, "p95 is back"),
    }
    messages = incident.timeline.filter(kind=TimelineKind.RUNBOOK).values_list("message", flat=True)
    assert any("step 3/3 done: Watch latency — p95 is back" in m for m in messages)
    page = client.get(url).content.decode()
    assert "2/3" in page and "p95 is back" in page

    client.post(url, {"step": [second.pk]})
    run.refresh_from_db()
    assert run.completed_at is not None
    assert "Completed" in client.get(url).content.decode()


def test_viewers_see_the_checklist_but_cannot_tick(client, viewer, incident):
    runbook = make_runbook()
    run = runbook_run_start(runbook=runbook, incident=incident, actor=None)
    client.force_login(viewer)
    url = f"/admin/runbooks/runbookrun/{run.pk}/checklist/"

    page = client.get(url)
    response = client.post(url, {"step": [runbook.steps.first().pk]})

    assert page.status_code == 200 and "Check ticked steps" not in page.content.decode()
    assert response.status_code == 403
    assert not RunStepCheck.objects.exists()


def test_checklist_of_unknown_run_is_404_and_run_change_page_redirects_to_it(
    admin_client, incident
):
    run = runbook_run_start(runbook=make_runbook(), incident=incident, actor=None)

    assert admin_client.get("/admin/runbooks/runbookrun/999999/checklist/").status_code == 404
    response = admin_client.get(f"/admin/runbooks/runbookrun/{run.pk}/change/")
    assert response["Location"] == f"/admin/runbooks/runbookrun/{run.pk}/checklist/"


def test_runbook_page_lists_its_runs(admin_client, incident):
    runbook = make_runbook()
    run = runbook_run_start(runbook=runbook, incident=incident, actor=None)

    html = admin_client.get(f"{CHANGELIST}{runbook.pk}/change/").content.decode()

    assert f"/admin/runbooks/runbookrun/{run.pk}/checklist/" in html
    assert incident.reference in html


def test_people_without_staff_groups_see_no_runbook_pages(client, incident):
    from tests.factories import UserFactory

    runbook = make_runbook()
    run = runbook_run_start(runbook=runbook, incident=incident, actor=None)
    client.force_login(UserFactory(username="outsider"))

    assert client.get(CHANGELIST).status_code == 403
    assert client.get(f"{CHANGELIST}{runbook.pk}/change/").status_code == 403
    assert client.get("/admin/runbooks/runbookrevision/").status_code == 403
    assert client.get(f"/admin/runbooks/runbookrun/{run.pk}/checklist/").status_code == 403


def test_viewers_read_runbooks_but_cannot_change_them(client, viewer):
    runbook = make_runbook(body="**bold**")
    client.force_login(viewer)
    url = f"{CHANGELIST}{runbook.pk}/change/"

    page = client.get(url)
    response = client.post(url, change_data(runbook, title="Renamed"))

    assert page.status_code == 200 and "<strong>bold</strong>" in page.content.decode()
    assert client.get(f"{CHANGELIST}add/").status_code == 403
    assert response.status_code == 403
    runbook.refresh_from_db()
    assert runbook.title == "Database connection pool exhausted"
    assert RunbookRevision.objects.count() == 1


def test_incident_managers_edit_runbooks_and_each_edit_is_a_revision(client, manager):
    runbook = make_runbook()
    client.force_login(manager)
    url = f"{CHANGELIST}{runbook.pk}/change/"

    response = client.post(url, change_data(runbook, symptoms="Timeouts everywhere"))

    assert response.status_code == 302
    latest = runbook.revisions.order_by("-number").first()
    assert (latest.number, latest.author) == (2, manager)
    assert "Timeouts everywhere" in latest.text
