import secrets

from django.core.management.base import BaseCommand

from videogen.services.workspaces import demo_setup


class Command(BaseCommand):
    help = (
        "Create a demo workspace and an admin user to try videogen. The password is random, "
        "printed once when the user is created (use changepassword to reset it)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--workspace", default="demo", help="Workspace slug.")

    def handle(self, *args, username, workspace, **options):
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
