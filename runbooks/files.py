"""The runbook file format: Markdown with YAML front matter (see docs/runbooks.md).

A runbook is turned into a `RunbookSpec` (plain data, canonical order) and back. The file text
of a spec is what export writes, what import compares with, and what a revision keeps, so
`parse(dump(spec)) == spec` is the property everything else relies on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runbooks.front_matter import FrontMatter, first_error
from runbooks.models import DEFAULT_REVIEW_EVERY_DAYS, DEFAULT_WEIGHTS, MatchKind, Runbook

FENCE = "---"
KNOWN_KEYS = (
    "title",
    "services",
    "owner",
    "review_every_days",
    "symptoms",
    "match",
    "keywords",
    "rules",
    "steps",
    "causes",
)


class RunbookFileError(ValueError):
    """Bad runbook file. `str()` reads `path:line: message`, like a compiler's."""

    def __init__(self, message: str, *, path: str = "<text>", line: int | None = None):
        self.message, self.path, self.line = message, path, line
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Rule:
    kind: str
    key: str
    value: str
    weight: int

    def sort_key(self):
        return (self.kind, self.key, self.value, self.weight)


@dataclass
class RunbookSpec:
    title: str
    services: list[str] = field(default_factory=list)
    owner: str | None = None
    review_every_days: int = DEFAULT_REVIEW_EVERY_DAYS
    symptoms: str = ""
    body: str = ""
    steps: list[dict[str, str]] = field(default_factory=list)  # instruction, command, expected
    causes: list[dict[str, str]] = field(default_factory=list)  # cause, fix
    rules: list[Rule] = field(default_factory=list)
    # Where each top-level key sits in its file, for error messages; not part of the runbook.
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def normalized(self) -> RunbookSpec:
        return dataclasses.replace(
            self,
            title=self.title.strip(),
            services=sorted(set(self.services)),
            symptoms=_text(self.symptoms),
            body=_text(self.body),
            steps=[
                {k: _text(step.get(k, "")) for k in ("instruction", "command", "expected")}
                for step in self.steps
            ],
            causes=[{k: _text(c.get(k, "")) for k in ("cause", "fix")} for c in self.causes],
            rules=sorted(set(self.rules), key=Rule.sort_key),
        )


def _text(value: str) -> str:
    """Strip outer blank space and trailing spaces per line: invisible, and YAML would mangle it."""
    return "\n".join(line.rstrip() for line in (value or "").strip().splitlines())


# --- from and to the database ------------------------------------------------------------------


def spec_of(runbook: Runbook) -> RunbookSpec:
    """The runbook as data. Reads services, steps, causes and rules (prefetch them for many)."""
    return RunbookSpec(
        title=runbook.title,
        services=[service.slug for service in runbook.services.all()],
        owner=runbook.owner.get_username() if runbook.owner else None,
        review_every_days=runbook.review_every_days,
        symptoms=runbook.symptoms,
        body=runbook.body,
        steps=[
            {"instruction": s.instruction, "command": s.command, "expected": s.expected}
            for s in runbook.steps.all()
        ],
        causes=[{"cause": c.cause, "fix": c.fix} for c in runbook.causes.all()],
        rules=[Rule(r.kind, r.key, r.value, r.weight) for r in runbook.rules.all()],
    ).normalized()


# --- writing -----------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow=False, indentless=False):
        # Indent list items under their key, as people write them.
        return super().increase_indent(flow, False)


def _str_presenter(dumper, data: str):
    # Multi-line text as a literal block, so the file reads like what was typed.
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def dump(spec: RunbookSpec) -> str:
    spec = spec.normalized()
    front: dict[str, Any] = {"title": spec.title}
    if spec.services:
        front["services"] = spec.services
    if spec.owner:
        front["owner"] = spec.owner
    front["review_every_days"] = spec.review_every_days
    if spec.symptoms:
        front["symptoms"] = spec.symptoms

    match, keywords, rules = {}, [], []
    label_keys = [r.key for r in spec.rules if r.kind == MatchKind.LABEL_EQUALS]
    for rule in spec.rules:
        default = rule.weight == DEFAULT_WEIGHTS[rule.kind]
        if rule.kind == MatchKind.LABEL_EQUALS and default and label_keys.count(rule.key) == 1:
            match[rule.key] = rule.value
        elif rule.kind == MatchKind.TITLE_KEYWORD and default:
            keywords.append(rule.value)
        else:
            entry = {"kind": rule.kind, "value": rule.value, "weight": rule.weight}
            if rule.key:
                entry = {
                    "kind": rule.kind,
                    "key": rule.key,
                    "value": rule.value,
                    "weight": rule.weight,
                }
            rules.append(entry)
    if match:
        front["match"] = match
    if keywords:
        front["keywords"] = keywords
    if rules:
        front["rules"] = rules
    if spec.steps:
        front["steps"] = [{k: v for k, v in step.items() if v} for step in spec.steps]
    if spec.causes:
        front["causes"] = spec.causes
    text = yaml.dump(
        front,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=4096,
        default_flow_style=False,
    )
    body = spec.body + "\n" if spec.body else ""
    return f"{FENCE}\n{text}{FENCE}\n{body}"


# --- reading -----------------------------------------------------------------------------------


def parse_file(path: Path | str) -> RunbookSpec:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise RunbookFileError(f"not UTF-8 text ({error.reason})", path=str(path)) from None
    return parse(text, path=str(path))


def parse(text: str, *, path: str = "<text>") -> RunbookSpec:
    """Read a runbook file. Raises RunbookFileError naming the file and the line at fault."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].rstrip() != FENCE:
        raise RunbookFileError("must start with YAML front matter: a '---' line", path=path, line=1)
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].rstrip() == FENCE)
    except StopIteration:
        raise RunbookFileError(
            "front matter is not closed: add a '---' line after it", path=path, line=1
        ) from None
    front_text = "\n".join(lines[1:end])
    body = "\n".join(lines[end + 1 :])
    # Line numbers in the front matter are offset by the opening fence.
    offset = 2

    loader = yaml.SafeLoader(front_text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + offset if mark else None
        problem = error.problem or error.context or "invalid YAML"
        raise RunbookFileError(f"bad front matter: {problem}", path=path, line=line) from None
    except yaml.YAMLError as error:
        raise RunbookFileError(f"bad front matter: {error}", path=path, line=1) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise RunbookFileError(
            "front matter must be a mapping of keys to values", path=path, line=2
        )

    lines_of = {k.value: v.start_mark.line + offset for k, v in node.value}

    def fail(key: str, message: str, index: int | None = None):
        line = lines_of.get(key, 2)
        if index is not None:
            value_node = next(v for k, v in node.value if k.value == key)
            line = value_node.value[index].start_mark.line + offset
        raise RunbookFileError(f"{key}: {message}", path=path, line=line)

    for key in data:
        if key not in KNOWN_KEYS:
            known = ", ".join(KNOWN_KEYS)
            raise RunbookFileError(
                f"unknown key {key!r} (known: {known})", path=path, line=lines_of.get(key, 2)
            )
    if "title" not in data:
        raise RunbookFileError("front matter needs a title", path=path, line=2)

    front = FrontMatter(data=data)
    if not front.is_valid():
        key, index, message = first_error(front.errors)
        fail(key, message, index)
    values = front.validated_data

    rules = [
        Rule(MatchKind.LABEL_EQUALS, label, value, DEFAULT_WEIGHTS[MatchKind.LABEL_EQUALS])
        for label, value in values["match"].items()
    ]
    rules += [
        Rule(MatchKind.TITLE_KEYWORD, "", keyword, DEFAULT_WEIGHTS[MatchKind.TITLE_KEYWORD])
        for keyword in values["keywords"]
    ]
    rules += [Rule(**rule) for rule in values.get("rules") or []]
    return RunbookSpec(
        title=values["title"],
        services=values["services"],
        owner=values.get("owner") or None,
        review_every_days=values["review_every_days"],
        symptoms=values["symptoms"],
        body=body,
        steps=values.get("steps") or [],
        causes=values.get("causes") or [],
        rules=rules,
        lines=lines_of,
    ).normalized()
