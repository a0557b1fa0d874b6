"""The demo site's own pages: ``/`` leads a member to their workspaces, members who are not
staff sign in through the site's login (the admin's refuses them), and sign out."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import make_member, make_workspace
from videogen.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def member():
    return make_member(make_workspace("studio"), role=Role.MEMBER)


def test_home_leads_a_signed_in_member_to_their_workspaces(member):
    client = Client()
    client.force_login(member)
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == "/videogen/"
    assert b'href="/videogen/w/studio/"' in response.content


def test_home_asks_anyone_else_to_sign_in_first():
    response = Client().get("/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/?next=/videogen/"
    assert b"Sign in" in response.content


def test_a_member_who_is_not_staff_signs_in_and_lands_on_their_workspaces(member):
    assert not member.is_staff
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": member.username, "password": "x"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/videogen/"
    assert f"Signed in as <strong>{member.username}</strong>" in response.content.decode()
    assert b'href="/admin/"' not in response.content  # not staff: no admin link


def test_signing_in_goes_back_where_the_member_was_going(member):
    response = Client().post(
        "/accounts/login/?next=/videogen/w/studio/",
        {"username": member.username, "password": "x", "next": "/videogen/w/studio/"},
    )
    assert response.status_code == 302 and response["Location"] == "/videogen/w/studio/"


def test_a_wrong_password_is_said_plainly(member):
    response = Client().post("/accounts/login/", {"username": member.username, "password": "no"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password." in response.content
    assert b'role="alert"' in response.content


def test_signing_out(member):
    client = Client()
    client.force_login(member)
    response = client.post("/accounts/logout/")
    assert response.status_code == 200 and b"You are signed out" in response.content
    assert client.get("/videogen/").status_code == 302


def test_staff_see_the_admin_link(member):
    member.is_staff = True
    member.save()
    client = Client()
    client.force_login(member)
    assert b'href="/admin/"' in client.get("/videogen/").content
