import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Make sure a superuser exists for local runs. The password comes from "
        "TOCSIN_ADMIN_PASSWORD, or is generated once, kept in var/admin-password and printed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("TOCSIN_ADMIN_USER", "admin"))
        parser.add_argument("--email", default="admin@localhost")

    def handle(self, *args, username: str, email: str, **options):
        User = get_user_model()
        password_file = Path(settings.BASE_DIR) / "var" / "admin-password"
        given = os.environ.get("TOCSIN_ADMIN_PASSWORD")
        user = User.objects.filter(username=username).first()

        if given:
            password, source = given, "from TOCSIN_ADMIN_PASSWORD"
        elif user is None or not password_file.exists():
            password, source = secrets.token_urlsafe(12), f"generated, kept in {password_file}"
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        else:
            password, source = password_file.read_text().strip(), f"from {password_file}"

        if user is None:
            user = User.objects.create_superuser(username=username, email=email, password=password)
        elif given or not user.check_password(password):
            user.set_password(password)
            user.is_staff = user.is_superuser = user.is_active = True
            user.save()
        self.stdout.write(f"Admin user: {username}  password: {password}  ({source})")
