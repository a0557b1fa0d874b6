"""Workspaces: members with their roles, the budget, this month's spend against it."""

import re

import pytest
from django.urls import reverse

from tests.factories import make_job, make_member, make_user, make_workspace
from videogen.models import Role, Workspace

pytestmark = pytest.mark.django_db


def test_the_list_shows_members_and_this_months_spend_against_the_budget(admin_client):
    near = make_workspace("near", monthly_budget=10)
    make_member(near, role=Role.ADMIN)
    make_member(near)
    make_job(near, status="completed", cost="8.5")
    make_workspace("free")
    page = admin_client.get(reverse("admin:videogen_workspace_changelist")).content.decode()
    row = re.search(r"<tr>.*?near.*?</tr>", page, flags=re.S).group(0)
    assert '<td class="field-member_count">2</td>' in row
    assert "vg-spend-near" in row and "8.50 of 10.00 USD (85 %)" in row
    assert "0.00 USD (no budget)" in page


def test_the_workspace_page_shows_members_roles_budget_and_a_link_to_its_report(admin_client):
    workspace = make_workspace("studio", monthly_budget=100)
    make_member(workspace, make_user("alice"), role=Role.ADMIN)
    make_job(workspace, status="completed", cost="20")
    make_job(workspace, status="pending", estimated_cost=5)
    page = admin_client.get(
        reverse("admin:videogen_workspace_change", args=[workspace.pk])
    ).content.decode()
    assert "alice" in page and 'value="admin" selected' in page
    assert "20.00 of 100.00 USD (20 %)" in page
    assert "plus 5.00 USD estimated for jobs still running" in page
    assert f"{reverse('admin:videogen_usageentry_report')}?workspaces={workspace.pk}" in page


def inline_management(client, url):
    """The inline formsets' management fields of an admin add/change page, empty."""
    data = {}
    for inline in client.get(url).context["inline_admin_formsets"]:
        prefix = inline.formset.prefix
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return data


@pytest.mark.parametrize(
    ("name", "code"),
    [("Studio\x07", "control_characters"), ("Stu\x00dio", "null_characters"), ("A\nB", None)],
)
def test_workspace_form_refuses_hostile_text(admin_client, name, code):
    url = reverse("admin:videogen_workspace_add")
    data = {"name": name, "slug": "studio", "budget_policy": "block"}
    response = admin_client.post(url, {**data, **inline_management(admin_client, url)})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors.as_data()["name"]
    assert [e.code for e in errors] == [code or "control_characters"]
    assert not Workspace.objects.exists()
