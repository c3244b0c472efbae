"""Remote images in runbook and post-mortem Markdown are refused by default (no tracking)."""

import pytest
from django.urls import reverse

from postmortems.services import postmortem_draft
from runbooks.rendering import render_markdown
from tests.factories import make_incident

PIXEL = "https://tracker.example/p.gif?reader=1"


def test_a_remote_markdown_image_becomes_a_link():
    html = render_markdown(f"See ![the latency graph]({PIXEL})")
    assert "<img" not in html
    assert '<a href="https://tracker.example/p.gif?reader=1"' in html
    assert "Image: the latency graph</a>" in html


def test_a_remote_raw_html_image_loses_its_source():
    html = render_markdown(f'<img src="{PIXEL}" alt="x"> and <img src="//tracker.example/p.gif">')
    assert "tracker.example" not in html


def test_images_of_this_site_and_allowed_hosts_are_shown(settings):
    settings.TOCSIN_BASE_URL = "https://tocsin.example.com"
    settings.TOCSIN_MARKDOWN_IMAGE_HOSTS = ["grafana.example.com"]
    html = render_markdown(
        "![a](/static/runbooks/a.png) ![b](https://tocsin.example.com/b.png) "
        "![c](https://grafana.example.com/render/c.png) ![d](https://other.example/d.png)"
    )
    assert '<img src="/static/runbooks/a.png"' in html
    assert '<img src="https://tocsin.example.com/b.png"' in html
    assert '<img src="https://grafana.example.com/render/c.png"' in html
    assert '<img src="https://other.example/d.png"' not in html
    assert html.count("<img") == 3


@pytest.mark.django_db
def test_the_post_mortem_print_page_shows_no_remote_image(admin_client):
    incident = make_incident(title="Checkout returns 502")
    postmortem, _ = postmortem_draft(incident=incident)
    postmortem.summary = f"Card payments failed. ![graph]({PIXEL})"
    postmortem.save(update_fields=["summary"])
    answer = admin_client.get(reverse("admin:postmortems_postmortem_print", args=[postmortem.pk]))
    assert answer.status_code == 200
    text = answer.content.decode()
    assert "<img" not in text and "Image: graph</a>" in text
