import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from videogen.models import Role, Workspace, WorkspaceMembership

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("videogen_demo_setup", *args, stdout=out)
    return out.getvalue()


def test_creates_admin_with_a_random_printed_password_and_a_workspace():
    output = run()
    password = re.search(r"password: (\S+)", output).group(1)
    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.check_password(password)
    assert WorkspaceMembership.objects.get(user=user, workspace__slug="demo").role == Role.ADMIN


def test_second_run_keeps_the_password_and_creates_nothing_new():
    first = re.search(r"password: (\S+)", run()).group(1)
    output = run()
    assert "password:" not in output
    assert get_user_model().objects.get(username="admin").check_password(first)
    assert WorkspaceMembership.objects.count() == 1


def test_passwords_differ_between_fresh_installs():
    first = re.search(r"password: (\S+)", run()).group(1)
    get_user_model().objects.all().delete()
    second = re.search(r"password: (\S+)", run()).group(1)
    assert first != second


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--username", "admin\udcff"], "--username: .*invalid_characters"),
        (["--username", "ad\x07min"], "--username: .*control_characters"),
        (["--workspace", "demo space"], "--workspace: "),
        (["--workspace", "d" * 101], "--workspace: .*max_length"),
    ],
)
def test_hostile_arguments_are_command_errors_and_create_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("videogen_demo_setup", *args, stdout=StringIO())
    assert not Workspace.objects.exists()
    assert not get_user_model().objects.exists()
