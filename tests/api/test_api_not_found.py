"""Unknown URLs under /api/ and /v2/ answer a JSON 404, with DEBUG on or off: API clients
(senders, scripts) read JSON, never Django's HTML pages."""

import pytest

pytestmark = pytest.mark.django_db

UNKNOWN = [
    ("get", "/api/nope"),
    ("get", "/api"),
    ("get", "/v2"),
    ("post", "/api/v1/nope/"),
    ("post", "/v2/nope"),
    ("post", "/v2/enqueue/"),
    ("put", "/v2/alerts/abc/nope"),
    ("delete", "/api/v1/incidents/not-a-number/"),
]


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
@pytest.mark.parametrize(("method", "path"), UNKNOWN)
def test_unknown_api_paths_answer_json_404(client, settings, debug, method, path):
    settings.DEBUG = debug
    answer = getattr(client, method)(path, content_type="application/json")

    assert answer.status_code == 404
    assert answer["Content-Type"] == "application/json"
    assert answer.json() == {"detail": "Not found."}


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_a_post_without_the_trailing_slash_is_told_where_the_endpoint_is(client, settings, debug):
    # APPEND_SLASH would redirect (dropping the body) or, with DEBUG, fail with a 500.
    settings.DEBUG = debug
    answer = client.post("/api/v1/incidents", {"title": "x"}, content_type="application/json")

    assert answer.status_code == 404
    assert answer.json() == {
        "detail": "Not found. The endpoint is /api/v1/incidents/ (with a trailing slash)."
    }


def test_a_get_without_the_trailing_slash_still_follows_it(client):
    answer = client.get("/api/v1/incidents?status=triggered")

    assert answer.status_code == 301
    assert answer["Location"] == "/api/v1/incidents/?status=triggered"


def test_pages_outside_the_api_keep_the_html_404(client, settings):
    settings.DEBUG = True
    answer = client.get("/apiary/")

    assert answer.status_code == 404
    assert answer["Content-Type"].startswith("text/html")
