"""One badge palette: every state Tocsin shows as a pill has a tone, and badges.css colours it."""

import re
from pathlib import Path

from incidents.core.formatting import TONES, badge, severity_badge
from incidents.models import Severity
from incidents.statuspage.selectors import ServiceState
from postmortems.choices import PostmortemStatus

CSS = Path(__file__).resolve().parents[2] / "incidents/static/incidents/badges.css"


def test_every_tone_the_palette_uses_is_coloured_by_the_one_stylesheet():
    coloured = set(re.findall(r"\.tocsin-tone--([a-z]+) \{", CSS.read_text()))
    used = {tone for states in TONES.values() for tone in states.values()} | {"quiet"}
    assert used <= coloured


def test_the_palette_covers_every_state_of_what_it_shows():
    assert set(TONES["postmortem"]) == set(PostmortemStatus.values)
    assert set(TONES["service"]) == set(ServiceState.values)


def test_a_badge_escapes_its_label_and_names_its_tone():
    html = badge("notification", "failed", "<b>Failed</b>", title='say "no"')
    assert html == (
        '<span class="tocsin-badge tocsin-status tocsin-tone--alarm" title="say &quot;no&quot;">'
        "&lt;b&gt;Failed&lt;/b&gt;</span>"
    )
    assert 'tocsin-tone--quiet"' in badge("notification", "unheard-of", "?")


def test_a_severity_colour_that_is_not_hex_falls_back_to_grey():
    severity = Severity(key="P1", name="High", color="red;background:url(x)")
    assert "--sev: #6b7280" in severity_badge(severity)
