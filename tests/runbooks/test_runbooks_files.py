"""import_runbooks / export_runbooks: Markdown with YAML front matter, idempotent, round-tripping."""

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from runbooks.demo import DEMO_DIR, seed_runbooks
from runbooks.models import MatchKind, Runbook, RunbookRevision
from tests.factories import ServiceFactory, UserFactory

POOL = """---
title: Database connection pool exhausted
services: [database, api]
owner: dave
review_every_days: 30
symptoms: |
  API requests time out.
  The pooler sits at its limit.
match:
  alertname: PgPoolExhausted
keywords: [connection pool]
rules:
  - {kind: label_matches, key: instance, value: "db-.*", weight: 4}
steps:
  - instruction: Count connections by state.
    command: psql -c "select state, count(*) from pg_stat_activity group by state"
    expected: Near max_connections.
  - Kill sessions idle in transaction.
causes:
  - cause: Transaction held open during an external call.
    fix: Move the call out of the transaction.
---
## Background

| Query | Why |
| --- | --- |
| `show max_connections` | the limit |
"""


@pytest.fixture
def catalogue(db):
    owner = UserFactory(username="dave")
    return {
        "database": ServiceFactory(name="Database", slug="database"),
        "api": ServiceFactory(name="Public API", slug="api"),
        "owner": owner,
    }


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_import_creates_the_runbook_with_everything_in_the_file(catalogue, tmp_path):
    path = write(tmp_path, "pool.md", POOL)

    output = run("import_runbooks", str(path))

    assert "1 created, 0 updated, 0 unchanged." in output
    runbook = Runbook.objects.get(title="Database connection pool exhausted")
    assert sorted(s.slug for s in runbook.services.all()) == ["api", "database"]
    assert runbook.owner == catalogue["owner"]
    assert runbook.review_every_days == 30
    assert runbook.symptoms == "API requests time out.\nThe pooler sits at its limit."
    assert runbook.body.startswith("## Background")
    steps = list(runbook.steps.values_list("instruction", "command", "expected"))
    assert steps == [
        (
            "Count connections by state.",
            'psql -c "select state, count(*) from pg_stat_activity group by state"',
            "Near max_connections.",
        ),
        ("Kill sessions idle in transaction.", "", ""),
    ]
    assert list(runbook.causes.values_list("cause", "fix")) == [
        ("Transaction held open during an external call.", "Move the call out of the transaction.")
    ]
    rules = set(runbook.rules.values_list("kind", "key", "value", "weight"))
    assert rules == {
        (MatchKind.LABEL_EQUALS, "alertname", "PgPoolExhausted", 10),
        (MatchKind.TITLE_KEYWORD, "", "connection pool", 3),
        (MatchKind.LABEL_MATCHES, "instance", "db-.*", 4),
    }
    assert runbook.revisions.count() == 1


def test_importing_the_same_file_twice_changes_nothing_and_adds_no_revision(catalogue, tmp_path):
    path = write(tmp_path, "pool.md", POOL)
    run("import_runbooks", str(path))
    runbook = Runbook.objects.get()
    step_ids = list(runbook.steps.values_list("pk", flat=True))
    updated_at = runbook.updated_at

    output = run("import_runbooks", str(path))

    assert "0 created, 0 updated, 1 unchanged." in output
    runbook.refresh_from_db()
    assert runbook.updated_at == updated_at
    assert list(runbook.steps.values_list("pk", flat=True)) == step_ids
    assert RunbookRevision.objects.count() == 1


def test_a_changed_file_updates_by_title_and_keeps_a_new_revision(catalogue, tmp_path):
    path = write(tmp_path, "pool.md", POOL)
    run("import_runbooks", str(path))
    write(tmp_path, "pool.md", POOL.replace("review_every_days: 30", "review_every_days: 60"))

    output = run("import_runbooks", str(path))

    assert "0 created, 1 updated, 0 unchanged." in output
    runbook = Runbook.objects.get()
    assert runbook.review_every_days == 60
    revisions = list(runbook.revisions.order_by("number"))
    assert [r.number for r in revisions] == [1, 2]
    assert "review_every_days: 30" in revisions[0].text
    assert "review_every_days: 60" in revisions[1].text
    assert revisions[1].summary == "Imported from pool.md"


def test_export_then_import_round_trips_with_no_change(catalogue, tmp_path):
    run("import_runbooks", str(write(tmp_path, "pool.md", POOL)))
    export_dir = tmp_path / "export"

    output = run("export_runbooks", str(export_dir))

    exported = export_dir / "database-connection-pool-exhausted.md"
    assert str(exported) in output
    text = exported.read_text()
    assert text.startswith("---\ntitle: Database connection pool exhausted\n")
    assert "## Background" in text
    assert "0 created, 0 updated, 1 unchanged." in run("import_runbooks", str(export_dir))
    assert RunbookRevision.objects.count() == 1
    # And the exported file, imported into an empty database, exports identically.
    Runbook.objects.all().delete()
    run("import_runbooks", str(export_dir))
    again = tmp_path / "again"
    run("export_runbooks", str(again))
    assert (again / exported.name).read_text() == text


def test_the_demo_runbooks_round_trip(db, tmp_path):
    from incidents.demo.seed import seed_people, seed_services

    seed_services(seed_people())
    first = seed_runbooks()
    assert len(first.created) == len(list(DEMO_DIR.glob("*.md"))) >= 5
    assert seed_runbooks().unchanged == first.created  # seeding twice is harmless

    run("export_runbooks", str(tmp_path))
    assert "0 created, 0 updated" in run("import_runbooks", str(tmp_path))


def test_a_directory_imports_every_markdown_file_in_it(catalogue, tmp_path):
    write(tmp_path, "pool.md", POOL)
    write(tmp_path, "other.md", "---\ntitle: Other\n---\nBody\n")
    write(tmp_path, "notes.txt", "not a runbook")

    output = run("import_runbooks", str(tmp_path))

    assert "2 created" in output
    assert set(Runbook.objects.values_list("title", flat=True)) == {
        "Database connection pool exhausted",
        "Other",
    }


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("---\ntitle: Pool\nservices: [database\n---\n", 3, "bad front matter"),
        (
            "---\ntitle: Pool\nsteps:\n  - instruction: a\n   command: b\n---\n",
            5,
            "bad front matter",
        ),
        ("---\ntitle: Pool\nreview_every_days: soon\n---\n", 3, "review_every_days"),
        ("---\ntitle: Pool\n\n\nservices: database\n---\n", 5, "services: must be a list"),
        (
            "---\ntitle: Pool\nsteps:\n  - instruction: ok\n  - command: x\n---\n",
            5,
            "needs instruction",
        ),
        (
            "---\ntitle: Pool\nrules:\n  - {kind: label_matches, key: a, value: '('}\n---\n",
            4,
            "regular expression",
        ),
        ("---\ntitle: Pool\ncolour: red\n---\n", 3, "unknown key 'colour'"),
        ("---\nservices: [database]\n---\n", 2, "needs a title"),
        ("title: Pool\n", 1, "must start with YAML front matter"),
        ("---\ntitle: Pool\n", 1, "not closed"),
    ],
)
def test_bad_front_matter_names_the_file_and_line_and_imports_nothing(
    catalogue, tmp_path, text, line, message
):
    good = write(tmp_path, "a-good.md", POOL)
    bad = write(tmp_path, "b-bad.md", text)

    with pytest.raises(CommandError) as error:
        run("import_runbooks", str(good), str(bad))

    assert str(error.value).startswith(f"{bad}:{line}: ")
    assert message in str(error.value)
    assert not Runbook.objects.exists()


def test_unknown_service_slug_names_the_file(catalogue, tmp_path):
    bad = write(tmp_path, "bad.md", "---\ntitle: Pool\nservices: [database, nope]\n---\n")

    with pytest.raises(CommandError) as error:
        run("import_runbooks", str(bad))

    assert str(error.value) == f"{bad}:3: Unknown service slug: nope."
    assert not Runbook.objects.exists()


def test_unknown_owner_names_the_file(catalogue, tmp_path):
    bad = write(tmp_path, "bad.md", "---\ntitle: Pool\nowner: nobody\n---\n")

    with pytest.raises(CommandError, match=rf"^{bad}:3: Unknown owner username: nobody\.$"):
        run("import_runbooks", str(bad))


def test_a_missing_path_is_an_error_naming_it(db, tmp_path):
    with pytest.raises(CommandError, match="no such file or directory"):
        run("import_runbooks", str(tmp_path / "missing.md"))


def test_two_files_with_one_title_are_refused(catalogue, tmp_path):
    write(tmp_path, "a.md", "---\ntitle: Same\n---\n")
    write(tmp_path, "b.md", "---\ntitle: Same\n---\n")

    with pytest.raises(CommandError, match="is also used by"):
        run("import_runbooks", str(tmp_path))
    assert not Runbook.objects.exists()


TRICKY = [
    "---",
    "  ---\nindented fence",
    "key: value # not a comment",
    "'quoted' and \"double\"",
    "ünïcödé — “quotes” ✓",
    "line with trailing spaces   \nnext",
    "- looks like a list",
    "@at {braces} [brackets] *star &amp !bang %pct",
    "yes",
    "123",
    "null",
    "tab\tinside",
    "multi\n\n\nparagraph",
]


@pytest.mark.parametrize("value", TRICKY)
def test_any_text_round_trips_through_the_file_form(value):
    from runbooks.files import Rule, RunbookSpec, dump, parse

    spec = RunbookSpec(
        title=f"T {value.splitlines()[0] or 'x'}".strip(),
        symptoms=value,
        body=f"# Body\n\n{value}\n\n---\n\nafter a rule",
        steps=[{"instruction": value, "command": value, "expected": value}],
        causes=[{"cause": value, "fix": value}],
        rules=[
            Rule("label_equals", "alertname", value, 10),
            Rule("title_keyword", "", value, 3),
            Rule("label_equals", "alertname", "other", 10),
        ],
    ).normalized()

    text = dump(spec)

    assert parse(text) == spec
    assert dump(parse(text)) == text


def test_a_file_that_is_not_utf8_names_the_file(db, tmp_path):
    bad = tmp_path / "latin1.md"
    bad.write_bytes("---\ntitle: Café\n---\n".encode("latin-1"))

    with pytest.raises(CommandError, match=rf"^{bad}: not UTF-8 text"):
        run("import_runbooks", str(bad))


def test_a_later_file_with_an_unknown_service_rolls_back_the_whole_import(catalogue, tmp_path):
    write(tmp_path, "a.md", POOL)
    write(tmp_path, "b.md", "---\ntitle: Other\nservices: [nope]\n---\n")

    with pytest.raises(CommandError, match=r"b\.md:3: Unknown service slug: nope\."):
        run("import_runbooks", str(tmp_path))

    assert not Runbook.objects.exists()
    assert not RunbookRevision.objects.exists()


def test_demo_runbooks_are_suggested_for_the_demo_scenarios(db):
    from incidents.demo.seed import seed_people, seed_services
    from runbooks.matching import runbooks_for_incident
    from tests.factories import make_incident

    services = seed_services(seed_people())
    seed_runbooks()
    pool = make_incident(
        title="Database connection pool exhausted", services=[services["database"], services["api"]]
    )
    worker = make_incident(
        title="Worker stopped processing jobs (queue backing up)", services=[services["workers"]]
    )
    webhook = make_incident(
        title="Stripe webhook failing with 401", services=[services["payments"]]
    )

    assert runbooks_for_incident(pool)[0].title == "Database connection pool exhausted"
    assert runbooks_for_incident(worker)[0].title == "Background worker stuck"
    assert runbooks_for_incident(webhook)[0].title == "Payment webhooks failing"
