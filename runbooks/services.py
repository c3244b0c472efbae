"""Runbook writes: saving (from a file or the admin), revisions, reviews, and runs on incidents."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from incidents.core.choices import ContactKind, TimelineKind
from incidents.core.errors import DomainError
from incidents.core.locks import lock_incident
from incidents.core.timeline import timeline_record
from incidents.models import Incident, NotificationReason, Service
from incidents.paging import outbox
from runbooks.files import RunbookFileError, RunbookSpec, dump, parse_file, spec_of
from runbooks.models import (
    MatchRule,
    Runbook,
    RunbookRevision,
    RunbookRun,
    RunbookStep,
    RunStepCheck,
)

# --- saving a runbook --------------------------------------------------------------------------


def _unique_slug(title: str, *, exclude_pk: int | None = None) -> str:
    base = slugify(title)[:190] or "runbook"
    slug, n = base, 1
    taken = Runbook.objects.exclude(pk=exclude_pk)
    while taken.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def _resolve_services(slugs: list[str]) -> list[Service]:
    found = {s.slug: s for s in Service.objects.filter(slug__in=slugs)}
    missing = [slug for slug in slugs if slug not in found]
    if missing:
        raise DomainError(
            f"Unknown service slug{'s' if len(missing) > 1 else ''}: {', '.join(missing)}.",
            field="services",
        )
    return [found[slug] for slug in slugs]


def _resolve_owner(username: str | None):
    if not username:
        return None
    try:
        return get_user_model().objects.get_by_natural_key(username)
    except get_user_model().DoesNotExist:
        raise DomainError(f"Unknown owner username: {username}.", field="owner") from None


def _sync_rows(manager, rows: list[dict]) -> None:
    """Make the child rows equal `rows`, updating in place by position.

    In place, so the steps of a runbook keep their ids (and past runs their checks) when an
    edit only rewords them.
    """
    existing = list(manager.all())
    for position, (row, data) in enumerate(zip(existing, rows, strict=False)):
        changed = [k for k, v in {**data, "order": position}.items() if getattr(row, k) != v]
        if changed:
            for key in changed:
                setattr(row, key, position if key == "order" else data[key])
            row.save(update_fields=changed)
    for position, data in enumerate(rows[len(existing) :], start=len(existing)):
        manager.create(order=position, **data)
    for row in existing[len(rows) :]:
        row.delete()


def runbook_save_spec(
    *, spec: RunbookSpec, actor: AbstractBaseUser | None = None, summary: str = ""
) -> tuple[Runbook, bool]:
    """Create or update the runbook titled `spec.title`; returns (runbook, changed).

    A no-op (no write, no revision) when the runbook already reads exactly like `spec`.
    """
    spec = spec.normalized()
    with transaction.atomic():
        services = _resolve_services(spec.services)
        owner = _resolve_owner(spec.owner)
        runbook = Runbook.objects.select_for_update().filter(title=spec.title).first()
        created = runbook is None
        if not created and spec_of(runbook) == spec:
            return runbook, False
        if created:
            runbook = Runbook.objects.create(title=spec.title, slug=_unique_slug(spec.title))
        runbook.owner = owner
        runbook.review_every_days = spec.review_every_days
        runbook.symptoms = spec.symptoms
        runbook.body = spec.body
        runbook.save()
        runbook.services.set(services)
        _sync_rows(runbook.steps, spec.steps)
        _sync_rows(runbook.causes, spec.causes)
        runbook.rules.all().delete()
        MatchRule.objects.bulk_create(
            MatchRule(runbook=runbook, kind=r.kind, key=r.key, value=r.value, weight=r.weight)
            for r in spec.rules
        )
        runbook_record_revision(
            runbook=runbook, actor=actor, summary=summary or ("Created" if created else "Updated")
        )
    return runbook, True


def runbook_record_revision(
    *, runbook: Runbook, actor: AbstractBaseUser | None, summary: str = ""
) -> RunbookRevision | None:
    """Keep the runbook's current text as a new revision, unless it equals the latest one.

    Called after every save (file import, admin edit); an unchanged runbook gets no revision.
    """
    with transaction.atomic():
        Runbook.objects.select_for_update().filter(pk=runbook.pk).first()
        text = dump(spec_of(runbook))
        latest = runbook.revisions.order_by("-number").first()
        if latest is not None and latest.text == text:
            return None
        return RunbookRevision.objects.create(
            runbook=runbook,
            number=(latest.number + 1) if latest else 1,
            author=actor,
            summary=summary[:300],
            text=text,
        )


def runbook_mark_reviewed(
    *, runbook: Runbook, actor: AbstractBaseUser | None, now: datetime | None = None
) -> Runbook:
    """Someone read the runbook and vouches for it: the next review is a full interval away."""
    with transaction.atomic():
        runbook = Runbook.objects.select_for_update().get(pk=runbook.pk)
        runbook.last_reviewed_at = now or timezone.now()
        runbook.save(update_fields=["last_reviewed_at", "updated_at"])
    return runbook


# --- files -------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def runbook_files(paths: Iterable[Path | str]) -> list[Path]:
    """The files named, with directories standing for the *.md files directly inside them."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.glob("*.md") if p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise RunbookFileError("no such file or directory", path=str(path))
    return files


def runbooks_import(
    *, paths: Iterable[Path | str], actor: AbstractBaseUser | None = None
) -> ImportResult:
    """Import runbook files, all or nothing: any bad file raises RunbookFileError, nothing saved."""
    parsed: list[tuple[Path, RunbookSpec]] = []
    seen: dict[str, Path] = {}
    for path in runbook_files(paths):
        spec = parse_file(path)
        if spec.title in seen:
            raise RunbookFileError(
                f"title {spec.title!r} is also used by {seen[spec.title]}",
                path=str(path),
                line=spec.lines.get("title"),
            )
        seen[spec.title] = path
        parsed.append((path, spec))
    result = ImportResult()
    with transaction.atomic():
        for path, spec in parsed:
            existed = Runbook.objects.filter(title=spec.title).exists()
            try:
                _, changed = runbook_save_spec(
                    spec=spec, actor=actor, summary=f"Imported from {path.name}"
                )
            except DomainError as error:
                raise RunbookFileError(
                    str(error), path=str(path), line=spec.lines.get(error.field or "")
                ) from None
            bucket = result.updated if existed else result.created
            (bucket if changed else result.unchanged).append(spec.title)
    return result


def runbooks_export(
    *, directory: Path | str, runbooks: Iterable[Runbook] | None = None
) -> list[Path]:
    """Write each runbook to `<slug>.md` in `directory`, in the form import reads."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if runbooks is None:
        runbooks = Runbook.objects.select_related("owner").prefetch_related(
            "services", "steps", "causes", "rules"
        )
    written = []
    for runbook in runbooks:
        path = directory / f"{runbook.slug}.md"
        path.write_text(dump(spec_of(runbook)), encoding="utf-8")
        written.append(path)
    return written


# --- review reminders --------------------------------------------------------------------------


def _review_recipients(runbook: Runbook) -> list[str]:
    people = [runbook.owner, *(service.owner for service in runbook.services.all())]
    emails = {person.email for person in people if person is not None and person.email}
    return sorted(emails)


def runbooks_remind_review(*, now: datetime | None = None) -> list[Runbook]:
    """Email the owners of each runbook past its review date, once per review period.

    A runbook is reminded when overdue and not yet reminded since it fell due (or a whole
    interval has passed since the last reminder while it stayed overdue). The reminder time is
    stored in the same transaction as the decision, so two overlapping runs send once.
    """
    now = now or timezone.now()
    reminded = []
    with transaction.atomic():
        overdue = (
            Runbook.objects.needs_review(now)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("owner")
            .prefetch_related("services__owner")
        )
        for runbook in overdue:
            last = runbook.review_reminded_at
            interval = timedelta(days=runbook.review_every_days)
            if last is not None and last >= runbook.review_due_at and last + interval > now:
                continue  # already told about this review period
            runbook.review_reminded_at = now
            runbook.save(update_fields=["review_reminded_at"])
            _queue_review_mail(runbook=runbook, recipients=_review_recipients(runbook), now=now)
            reminded.append(runbook)
    return reminded


def _queue_review_mail(*, runbook: Runbook, recipients: list[str], now: datetime) -> None:
    """One outbox row per owner, keyed by runbook, review period and address: delivered and
    retried like a page, and never twice for one reminder."""
    url = f"{settings.TOCSIN_BASE_URL}{runbook.get_absolute_url()}"
    last = (
        f"last reviewed on {runbook.last_reviewed_at:%Y-%m-%d}"
        if runbook.last_reviewed_at
        else "never reviewed"
    )
    body = (
        f'The runbook "{runbook.title}" is due for review ({last}; reviewed every '
        f"{runbook.review_every_days} days).\n\n"
        "Read it through: are the steps, commands and links still right? Fix what is not, "
        'then use "Mark reviewed" on the runbook list.\n\n'
        f"{url}\n"
    )
    for address in recipients:
        outbox.message(
            key=f"review:{runbook.pk}:{now:%Y%m%dT%H%M%S}:{address}",
            reason=NotificationReason.REVIEW,
            kind=ContactKind.EMAIL,
            address=address,
            recipient=address,
            subject=f"Runbook due for review: {runbook.title}",
            body=body,
        )


# --- runs on incidents -------------------------------------------------------------------------


def runbook_run_start(
    *, runbook: Runbook, incident: Incident, actor: AbstractBaseUser | None
) -> RunbookRun:
    """Start working `runbook` on `incident`; returns the open run if there already is one."""
    with transaction.atomic():
        # The incident first, as every change to an incident locks it (docs/architecture.md).
        lock_incident(incident.pk)
        run = RunbookRun.objects.filter(
            runbook=runbook, incident=incident, completed_at__isnull=True
        ).first()
        if run is not None:
            return run
        run = RunbookRun.objects.create(runbook=runbook, incident=incident, started_by=actor)
        steps = runbook.steps.count()
        timeline_record(
            incident=incident,
            kind=TimelineKind.RUNBOOK,
            actor=actor,
            message=f"Started runbook “{runbook.title}” ({steps} step{'' if steps == 1 else 's'}).",
            after={"runbook": runbook.pk, "run": run.pk},
        )
    return run


def runbook_step_check(
    *, run: RunbookRun, step: RunbookStep, actor: AbstractBaseUser | None, note: str = ""
) -> RunStepCheck:
    """Tick one step of a run; the timeline records who and when. Ticking twice is a no-op.

    The run completes when its last step is ticked.
    """
    with transaction.atomic():
        run = (
            RunbookRun.objects.select_for_update()
            .select_related("runbook", "incident")
            .get(pk=run.pk)
        )
        if step.runbook_id != run.runbook_id:
            raise DomainError("That step belongs to another runbook.", field="step")
        existing = RunStepCheck.objects.filter(run=run, step=step).first()
        if existing is not None:
            return existing
        if run.completed_at is not None:
            raise DomainError("This run is finished; start the runbook again.", field="run")
        check = RunStepCheck.objects.create(run=run, step=step, checked_by=actor, note=note.strip())
        steps = list(run.runbook.steps.values_list("pk", flat=True))
        done = run.checks.count()
        position = steps.index(step.pk) + 1
        message = f"Runbook “{run.runbook.title}” step {position}/{len(steps)} done: {step}"
        if check.note:
            message += f" — {check.note}"
        timeline_record(
            incident=run.incident,
            kind=TimelineKind.RUNBOOK,
            actor=actor,
            message=message,
            after={"run": run.pk, "step": step.pk, "checked": done, "of": len(steps)},
        )
        if done >= len(steps):
            run.completed_at = check.checked_at
            run.save(update_fields=["completed_at"])
            timeline_record(
                incident=run.incident,
                kind=TimelineKind.RUNBOOK,
                actor=actor,
                message=f"Runbook “{run.runbook.title}” completed: all {len(steps)} steps done.",
                after={"run": run.pk},
            )
    return check


def run_progress(run: RunbookRun) -> tuple[int, int]:
    """(steps checked, steps in the runbook). Two cheap queries; prefetch for lists."""
    return run.checks.count(), run.runbook.steps.count()
