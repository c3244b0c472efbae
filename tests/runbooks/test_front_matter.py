"""Front matter is validated by a DRF serializer (runbooks.front_matter.FrontMatter): what it
accepts and how it refuses, each refusal naming the key and the line of the entry at fault."""

import pytest

from runbooks.files import Rule, RunbookFileError, parse


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("---\ntitle: 5\n---\n", "<text>:2", "title: must be non-empty text"),
        ("---\ntitle: '   '\n---\n", "<text>:2", "title: must be non-empty text"),
        ("---\ntitle: " + "x" * 201 + "\n---\n", "<text>:2", "is longer than 200 characters"),
        ("---\ntitle: P\nservices: [a, true]\n---\n", "<text>:3", "services: must be a list"),
        ("---\ntitle: P\nowner: 5\n---\n", "<text>:3", "owner: must be a username"),
        ("---\ntitle: P\nreview_every_days: null\n---\n", "<text>:3", "between 1 and 3650"),
        ("---\ntitle: P\nreview_every_days: true\n---\n", "<text>:3", "between 1 and 3650"),
        ("---\ntitle: P\nsymptoms: [a]\n---\n", "<text>:3", "symptoms: must be text"),
        ("---\ntitle: P\nmatch: [a]\n---\n", "<text>:3", "match: must map alert labels"),
        ("---\ntitle: P\nmatch: {a: true}\n---\n", "<text>:3", "the value of 'a' must be text"),
        (
            "---\ntitle: P\nrules:\n  - {kind: service, value: db}\n  - {kind: nope, value: a}\n---\n",
            "<text>:5",
            "rules: each rule needs a kind, one of: label_equals",
        ),
        (
            "---\ntitle: P\nrules:\n  - {kind: label_matches, value: a}\n---\n",
            "<text>:4",
            "rules: label rules need a key",
        ),
        (
            "---\ntitle: P\nrules:\n  - {kind: service, value: db, weight: 0}\n---\n",
            "<text>:4",
            "rules: weight must be a whole number between 1 and 1000",
        ),
        ("---\ntitle: P\nrules:\n  - {kind: service}\n---\n", "<text>:4", "needs a value"),
        (
            "---\ntitle: P\nsteps:\n  - instruction: y\n    colour: 5\n---\n",
            "<text>:4",
            "steps: unknown field 'colour'",
        ),
        ("---\ntitle: P\ncauses:\n  - a\n---\n", "<text>:4", "causes: each entry needs cause, fix"),
        ("---\ntitle: P\nsteps: {a: 1}\n---\n", "<text>:3", "steps: must be a list of"),
    ],
)
def test_a_bad_value_is_refused_naming_the_key_and_line(text, where, message):
    with pytest.raises(RunbookFileError) as error:
        parse(text)
    assert str(error.value).startswith(f"{where}: ")
    assert message in str(error.value)


def test_yaml_scalars_and_empty_values_read_as_the_format_says():
    spec = parse(
        "---\ntitle: '  Pool  '\nservices: [db, 1]\nkeywords: [pool, 2]\nsymptoms: 0\n"
        "match: {alertname: X, code: 502}\nrules:\n  - {kind: label_equals, key: 1, value: 2}\n"
        "steps:\n  - check\n  - instruction: y\n    command: 5\ncauses: 0\nowner: ''\n---\n# Body\n"
    )
    assert spec.title == "Pool"
    assert spec.services == ["1", "db"]
    assert spec.owner is None
    assert spec.symptoms == "" and spec.causes == [] and spec.body == "# Body"
    assert spec.steps == [
        {"instruction": "check", "command": "", "expected": ""},
        {"instruction": "y", "command": "5", "expected": ""},
    ]
    assert set(spec.rules) == {
        Rule("label_equals", "alertname", "X", 10),
        Rule("label_equals", "code", "502", 10),
        Rule("label_equals", "1", "2", 10),
        Rule("title_keyword", "", "pool", 3),
        Rule("title_keyword", "", "2", 3),
    }
