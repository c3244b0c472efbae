import pytest
from django.contrib.auth.models import Group

from tests.factories import ServiceFactory, UserFactory, make_incident


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def service(db):
    return ServiceFactory(name="Checkout", slug="checkout")


@pytest.fixture
def incident(db, service):
    return make_incident(services=[service])


def _member_of(group_name: str, username: str):
    user = UserFactory(username=username)
    user.groups.add(Group.objects.get(name=group_name))
    return user


@pytest.fixture
def viewer(db):
    return _member_of("Viewer", "vera-viewer")


@pytest.fixture
def responder(db):
    return _member_of("Responder", "rita-responder")


@pytest.fixture
def manager(db):
    return _member_of("Incident manager", "max-manager")


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """Production uses whitenoise's manifest storage, which needs `collectstatic` first."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
