"""The Markdown export is a Django template (templates/postmortems/export.md) that writes the
team runbooks' template exactly: Markdown, never HTML-escaped, one blank line between parts."""

from datetime import date

import pytest

from postmortems.export import export_queryset, postmortem_markdown
from postmortems.models import RootCauseCategory
from postmortems.services import action_item_create, postmortem_update
from tests.factories import UserFactory
from tests.postmortems.test_postmortems_api import resolved_p0  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def test_the_export_writes_markdown_unescaped_in_the_runbooks_order(resolved_p0):  # noqa: F811
    postmortem = export_queryset().get(incident=resolved_p0)
    postmortem_update(
        postmortem=postmortem,
        root_cause="The <client> timeout & retries",
        root_cause_category=RootCauseCategory.objects.get(name="Deployment"),
        contributing_factors="No canary\nAlert threshold too high",
        went_well="Rollback was smooth",
        affected_users="~40%",
    )
    bob = UserFactory(username="bob", first_name="Bob", last_name="Okafor")
    action_item_create(
        postmortem=postmortem,
        title="Add a <canary> & stage",
        owner=bob,
        due_date=date(2026, 3, 20),
        priority="high",
    )
    action_item_create(
        postmortem=postmortem, title="Two", priority="low", tracker_url="https://t.example/1"
    )

    text = postmortem_markdown(export_queryset().get(pk=postmortem.pk))

    day = f"{resolved_p0.started_at:%Y-%m-%d}"
    assert text.startswith(
        "# Post-Mortem: Checkout returns 502 for all requests\n\n"
        f"**Incident:** INC-{resolved_p0.number}  \n**Date:** {day}  \n**Severity:** P0  \n"
    )
    assert "**Affected Users:** ~40%  \n**Author:** Alice Nguyen  \n**Status:** Draft\n\n" in text
    assert (
        "## Root Cause\n\n**Category:** Deployment\n\nThe <client> timeout & retries\n\n"
        "**Contributing Factors:**\n\n1. No canary\n2. Alert threshold too high\n\n"
        "## Impact\n\n**User Impact:**\n\n_To be written._\n\n"
    ) in text
    assert text.endswith(
        "## Action Items\n\n"
        "1. **Add a <canary> & stage** - Assigned: Bob Okafor - Due: 2026-03-20 - "
        "Priority: High - Status: Open\n"
        "2. **Two** - Assigned: Unassigned - Due: none - Priority: Low - Status: Open "
        "(https://t.example/1)\n\n"
        "## Prevention\n\n_To be written._\n"
    )


def test_an_export_without_action_items_says_so(resolved_p0):  # noqa: F811
    text = postmortem_markdown(export_queryset().get(incident=resolved_p0))
    assert "## Action Items\n\n_None yet._\n\n## Prevention\n\n_To be written._\n" in text
    assert text.endswith("_To be written._\n")
