import secrets

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_slug

from videogen.management.arguments import clean_argument
from videogen.models import Workspace
from videogen.services.workspaces import demo_setup

_SLUG_MAX_LENGTH = Workspace._meta.get_field("slug").max_length


class Command(BaseCommand):
    help = (
        "Create a demo workspace and an admin user to try videogen. The password is random, "
        "printed once when the user is created (use changepassword to reset it)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--workspace", default="demo", help="Workspace slug.")

    def handle(self, *args, username, workspace, **options):
        user_model = get_user_model()
        name_field = user_model._meta.get_field(user_model.USERNAME_FIELD)
        clean_argument(username, option="--username", max_length=name_field.max_length)
        clean_argument(workspace, option="--workspace", max_length=_SLUG_MAX_LENGTH)
        try:
            validate_slug(workspace)
        except ValidationError as err:
            raise CommandError(f"--workspace: {err.messages[0]}") from None
        password = secrets.token_urlsafe(12)
        ws, created = demo_setup(username=username, workspace_slug=workspace, password=password)
        if created:
            self.stdout.write(f"Created admin user: {username} / password: {password}")
        else:
            self.stdout.write(
                f"Admin user {username!r} exists (password unchanged; reset it with "
                f"`python manage.py changepassword {username}`)."
            )
        self.stdout.write(f"Workspace: {ws.name} ({ws.slug})")
