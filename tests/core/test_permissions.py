"""Staff groups: created by migration 0003, kept in step with STAFF_GROUPS after every migrate."""

import importlib

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from incidents.core.permissions import STAFF_GROUPS, sync_staff_groups
from tests.factories import make_incident

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def granted(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


def test_the_three_staff_groups_exist_with_their_permissions():
    for name, perms in STAFF_GROUPS.items():
        # Every permission named in the map exists by the end of migrate and is granted.
        assert granted(name) == set(perms), name


def test_viewer_reads_but_cannot_acknowledge_change_or_add(viewer):
    assert viewer.has_perm("incidents.view_incident")
    assert not viewer.has_perm("incidents.acknowledge_incident")
    assert not viewer.has_perm("incidents.change_incident")
    assert not viewer.has_perm("incidents.add_statusupdate")


def test_responder_works_incidents_but_neither_commands_nor_edits_the_catalogue(responder):
    assert responder.has_perms(
        [
            "incidents.acknowledge_incident",
            "incidents.resolve_incident",
            "incidents.change_incident",
            "incidents.add_statusupdate",
        ]
    )
    assert not responder.has_perm("incidents.command_incident")
    assert not responder.has_perm("incidents.add_incident")
    assert not responder.has_perm("incidents.add_service")


def test_incident_manager_opens_commands_and_manages_the_catalogue(manager):
    assert manager.has_perms(
        [
            "incidents.add_incident",
            "incidents.command_incident",
            "incidents.add_service",
            "incidents.change_severity",
        ]
    )


def test_admin_pages_follow_the_groups(client, viewer, responder, manager):
    incident = make_incident()
    change = f"/admin/incidents/incident/{incident.pk}/change/"
    expected = {
        # page: (viewer, responder, manager)
        "/admin/incidents/incident/": (200, 200, 200),
        change: (200, 200, 200),
        "/admin/incidents/incident/add/": (403, 403, 200),
        f"/admin/incidents/incident/{incident.pk}/post-update/": (403, 200, 200),
        "/admin/incidents/service/": (200, 200, 200),
        "/admin/incidents/service/add/": (403, 403, 200),
        "/admin/incidents/severity/add/": (403, 403, 403),
    }
    for page, codes in expected.items():
        for user, code in zip((viewer, responder, manager), codes, strict=True):
            client.force_login(user)
            assert client.get(page).status_code == code, (page, user.username)


def test_a_viewer_cannot_acknowledge_from_the_admin(client, viewer):
    incident = make_incident()
    rows = incident.timeline.count()
    client.force_login(viewer)
    response = client.post(
        "/admin/incidents/incident/",
        {"action": "acknowledge", "_selected_action": [incident.pk], "index": 0},
    )
    assert response.status_code == 403
    move = client.post(f"/admin/incidents/incident/{incident.pk}/move/", {"to": "acknowledged"})
    assert move.status_code == 403
    incident.refresh_from_db()
    assert incident.status == "triggered"
    assert incident.timeline.count() == rows


def test_migrate_resyncs_groups_with_the_permission_map():
    responder = Group.objects.get(name="Responder")
    responder.permissions.remove(Permission.objects.get(codename="acknowledge_incident"))
    stray = Permission.objects.get(codename="delete_incident")
    responder.permissions.add(stray)
    Group.objects.get(name="Viewer").delete()

    call_command("migrate", verbosity=0, interactive=False)

    assert granted("Responder") == set(STAFF_GROUPS["Responder"])
    assert granted("Viewer") == set(STAFF_GROUPS["Viewer"])


# Transactional: SQLite's schema editor refuses to open inside the transaction that wraps a
# plain test (it must switch foreign-key checks off first, which SQLite cannot do mid-transaction).
@pytest.mark.django_db(transaction=True)
def test_the_data_migration_creates_the_groups_with_historical_models():
    Group.objects.filter(name__in=STAFF_GROUPS).delete()
    migration = importlib.import_module("incidents.migrations.0003_staff_groups")
    loader = MigrationLoader(connection)
    # incidents at 0003, auth and contenttypes as migrate has left them when 0003 runs.
    nodes = [("incidents", "0003_staff_groups")] + [
        node for node in loader.graph.leaf_nodes() if node[0] in ("auth", "contenttypes")
    ]
    state = loader.project_state(nodes)
    with connection.schema_editor(atomic=False) as editor:
        migration.forwards(state.apps, editor)
    # Every mapped permission of a model that exists at 0003 is granted.
    models_then = {m._meta.model_name for m in state.apps.get_app_config("incidents").get_models()}
    for name, perms in STAFF_GROUPS.items():
        expected = {p for p in perms if p.split(".")[1].split("_", 1)[1] in models_then}
        assert {"incidents.view_incident", "incidents.view_service"} <= expected
        assert expected <= granted(name), name


def test_sync_skips_permissions_of_models_that_do_not_exist_yet(monkeypatch):
    monkeypatch.setitem(STAFF_GROUPS, "Viewer", [*STAFF_GROUPS["Viewer"], "incidents.view_nothing"])
    sync_staff_groups(Group, Permission)
    assert "incidents.view_nothing" not in granted("Viewer")
    assert "incidents.view_incident" in granted("Viewer")
