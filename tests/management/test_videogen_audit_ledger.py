from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.factories import make_job, make_workspace

pytestmark = pytest.mark.django_db


def test_clean_ledger_exits_zero():
    out = StringIO()
    call_command("videogen_audit_ledger", stdout=out)
    assert "Ledger OK" in out.getvalue()


def test_a_problem_exits_non_zero_and_lists_it():
    job = make_job(make_workspace("acme"), status="completed", usage={"cost": "1"})
    out = StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command("videogen_audit_ledger", stdout=out)
    assert str(job.public_id) in out.getvalue()


def test_unknown_workspace_is_a_command_error():
    with pytest.raises(CommandError, match="Unknown workspace"):
        call_command("videogen_audit_ledger", "--workspace", "nope")


@pytest.mark.parametrize(
    ("slug", "code"), [("acme\udcff", "invalid_characters"), ("acme\x00", "null_characters")]
)
def test_a_hostile_workspace_is_a_command_error(slug, code):
    with pytest.raises(CommandError, match=f"--workspace: .*{code}"):
        call_command("videogen_audit_ledger", "--workspace", slug, stdout=StringIO())
