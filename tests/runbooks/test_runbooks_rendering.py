"""Runbook Markdown renders with code blocks and tables, and nothing executable reaches the page."""

import pytest

from runbooks.rendering import render_markdown


def test_fenced_code_keeps_its_language_and_escapes_its_content():
    html = render_markdown("```bash\npsql -c 'select 1' <in >out\n```\n")

    assert '<pre><code class="language-bash">' in html
    assert "psql -c 'select 1' &lt;in &gt;out" in html


def test_tables_render_with_alignment():
    html = render_markdown("| Cause | Fix |\n|:--|--:|\n| pool full | kill idle |\n")

    assert "<table>" in html
    assert '<th style="text-align:left">Cause</th>' in html
    assert '<td style="text-align:right">kill idle</td>' in html


@pytest.mark.parametrize(
    "source, forbidden",
    [
        ("<script>alert(1)</script>", "<script"),
        ("<script>alert(1)</script>", "alert(1)"),
        ('<img src="x.png" onerror="alert(1)">', "onerror"),
        ('<a href="#" onclick="steal()">x</a>', "onclick"),
        ("[click](javascript:alert(1))", 'href="javascript'),
        ('<a href="JaVaScRiPt:alert(1)">x</a>', "alert"),
        ('<iframe src="https://evil.example"></iframe>', "<iframe"),
        ('<p style="background:url(javascript:x)">hi</p>', "style"),
        ("<svg><script>alert(1)</script></svg>", "<svg"),
    ],
)
def test_scripts_event_handlers_and_javascript_urls_never_reach_the_page(source, forbidden):
    html = render_markdown(f"Intro\n\n{source}\n\nOutro\n")

    assert forbidden.lower() not in html.lower()
    assert "Outro" in html


def test_safe_links_and_harmless_html_survive():
    html = render_markdown(
        "See [the dashboard](https://grafana.example/d/db) or press <kbd>Ctrl</kbd>."
    )

    assert 'href="https://grafana.example/d/db"' in html
    assert 'rel="noopener noreferrer nofollow"' in html
    assert "<kbd>Ctrl</kbd>" in html


def test_empty_text_renders_nothing():
    assert render_markdown("") == ""
