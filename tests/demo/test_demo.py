"""`seed_demo`'s people: TOCSIN_DEMO_PASSWORD is their password after every run."""

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from incidents.demo.seed import PEOPLE

pytestmark = pytest.mark.django_db


def logs_in(username: str, password: str) -> bool:
    return User.objects.get(username=username).check_password(password)


def test_demo_people_get_tocsin_demo_password_on_every_run(monkeypatch):
    monkeypatch.delenv("TOCSIN_DEMO_PASSWORD", raising=False)
    call_command("seed_demo", verbosity=0)
    assert not User.objects.get(username="alice").has_usable_password()
    assert not logs_in("alice", "")

    monkeypatch.setenv("TOCSIN_DEMO_PASSWORD", "first-demo-pass")
    call_command("seed_demo", verbosity=0)
    for username, *_ in PEOPLE:
        assert logs_in(username, "first-demo-pass"), username

    monkeypatch.setenv("TOCSIN_DEMO_PASSWORD", "second-demo-pass")
    call_command("seed_demo", verbosity=0)
    assert not logs_in("vera", "first-demo-pass")
    assert logs_in("vera", "second-demo-pass")

    # Without the variable, a later run leaves the password alone.
    monkeypatch.delenv("TOCSIN_DEMO_PASSWORD")
    call_command("seed_demo", verbosity=0)
    assert logs_in("vera", "second-demo-pass")
