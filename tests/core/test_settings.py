"""Production settings pass `check --deploy`; DEBUG only relaxes what plain HTTP needs."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECURE_SSL_REDIRECT"}}
    base.pop("SESSION_COOKIE_SECURE", None)
    base.pop("CSRF_COOKIE_SECURE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_debug_off_and_a_real_secret():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="False",
        SECRET_KEY="k3y-" + "a8Zq1x9Lm2Nv7Bc4Xs6Df0Gh5Jk3Pw8Ry1Tu" * 2,
        ALLOWED_HOSTS="tocsin.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_off_without_secret_key_refuses_to_serve_and_fails_the_deploy_check():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(DEBUG="False", SECRET_KEY="", ALLOWED_HOSTS="tocsin.example.com")

    def run(*args):
        return subprocess.run(
            [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )

    deploy = run("manage.py", "check", "--deploy")
    assert deploy.returncode != 0
    assert "tocsin.E001" in deploy.stderr and "SECRET_KEY is not set" in deploy.stderr
    serving = run("-c", "import config.wsgi")
    assert serving.returncode != 0
    assert "Set SECRET_KEY" in serving.stderr
    # Commands that serve nothing still work, e.g. checking for missing migrations.
    assert run("manage.py", "makemigrations", "--check", "--dry-run").returncode == 0


def test_debug_turns_off_https_redirect_and_secure_cookies():
    script = (
        "from django.conf import settings as s;"
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_HSTS_SECONDS)"
    )
    on = run_manage("shell", "--no-imports", "-c", script, DEBUG="True")
    assert on.stdout.split() == ["False", "False", "False", "0"], on.stderr
    off = run_manage("shell", "--no-imports", "-c", script, DEBUG="False", SECRET_KEY="x" * 60)
    assert off.stdout.split() == ["True", "True", "True", "31536000"], off.stderr


def test_debug_does_not_make_celery_eager():
    script = "from config.celery import app; print(app.conf.task_always_eager)"
    assert run_manage("shell", "--no-imports", "-c", script, DEBUG="True").stdout.strip() == "False"


def test_base_url_follows_tocsin_port_unless_given(monkeypatch):
    for name in ("TOCSIN_BASE_URL", "CSRF_TRUSTED_ORIGINS"):
        monkeypatch.delenv(name, raising=False)
    show = (
        "from django.conf import settings as s; print(s.TOCSIN_BASE_URL, *s.CSRF_TRUSTED_ORIGINS)"
    )
    default = run_manage("shell", "--no-imports", "-c", show, TOCSIN_PORT="8123")
    assert default.stdout.split() == ["http://127.0.0.1:8123"] * 2, default.stderr
    given = run_manage(
        "shell",
        "--no-imports",
        "-c",
        show,
        TOCSIN_PORT="8123",
        TOCSIN_BASE_URL="https://t.example/",
    )
    assert given.stdout.split() == ["https://t.example"] * 2, given.stderr
