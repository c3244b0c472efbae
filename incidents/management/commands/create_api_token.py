from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from knox.models import AuthToken


class Command(BaseCommand):
    help = (
        "Create a REST API token for USERNAME. The token is stored hashed and printed once, "
        "alone on the last line: use it as `Authorization: Token <key>`."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user named {username!r}.") from exc
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive.")
        _, key = AuthToken.objects.create(user=user)
        self.stdout.write(
            f"Created an API token for {username}. It is shown only now; store it safely."
        )
        self.stdout.write(key)
