"""The API token page: create (the key shown once), replace, revoke; a working curl example;
and a host without DRF's authtoken, where the page says so."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from tests.factories import make_job, make_member, make_workspace
from videogen.models import Role

pytestmark = pytest.mark.django_db

URL = "/videogen/token/"


@pytest.fixture
def member():
    return make_member(make_workspace("studio"), role=Role.MEMBER)


@pytest.fixture
def client(member):
    client = Client()
    client.force_login(member)
    return client


def shown_key(response) -> str | None:
    match = re.search(r'<code id="vg-token-key">([0-9a-f]{40})</code>', response.content.decode())
    return match[1] if match else None


def test_the_url():
    assert reverse("videogen:api-token") == URL


def test_a_new_token_is_shown_once_and_works_with_the_api(client, member):
    assert b"You have no token yet." in client.get(URL).content
    created = client.post(URL, {"action": "create"})
    assert created.status_code == 200
    assert "no-store" in created["Cache-Control"]
    key = shown_key(created)
    assert key == Token.objects.get(user=member).key
    assert f'curl -H "Authorization: Token {key}" http://testserver/videogen/api/jobs/' in (
        created.content.decode()
    )
    later = client.get(URL)
    assert key not in later.content.decode() and shown_key(later) is None
    assert b"You have a token, created" in later.content
    make_job(member.videogen_workspaces.get(), prompt="made by a program")
    api = Client().get("/videogen/api/jobs/", headers={"Authorization": f"Token {key}"})
    assert api.status_code == 200 and b"made by a program" in api.content


def test_replacing_the_token_stops_the_old_one(client, member):
    old = shown_key(client.post(URL, {"action": "create"}))
    new = shown_key(client.post(URL, {"action": "create"}))
    assert old != new and Token.objects.filter(user=member).count() == 1
    assert (
        Client().get("/videogen/api/jobs/", headers={"Authorization": f"Token {old}"}).status_code
        == 401
    )


def test_revoking_deletes_the_token(client, member):
    key = shown_key(client.post(URL, {"action": "create"}))
    response = client.post(URL, {"action": "revoke"}, follow=True)
    assert b"Your API token was revoked." in response.content
    assert not Token.objects.filter(user=member).exists()
    assert (
        Client().get("/videogen/api/jobs/", headers={"Authorization": f"Token {key}"}).status_code
        == 401
    )


@pytest.mark.parametrize("action", ["", "delete", "create\x00", "\ud800"])
def test_an_unknown_action_is_a_400(client, member, action):
    body = urlencode({"action": action}, errors="surrogatepass")
    response = client.post(URL, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert not Token.objects.filter(user=member).exists()


def test_the_page_needs_a_signed_in_user_and_the_csrf_token(member):
    assert Client().get(URL).status_code == 302
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member)
    assert strict.post(URL, {"action": "create"}).status_code == 403
    assert not Token.objects.filter(user=member).exists()


def test_a_site_whose_api_reads_no_tokens_is_warned(client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    }
    assert b"does not accept tokens" in client.get(URL).content


def test_a_host_without_authtoken_is_told_so(client, settings):
    settings.INSTALLED_APPS = [
        a for a in settings.INSTALLED_APPS if a != "rest_framework.authtoken"
    ]
    page = client.get(URL)
    assert page.status_code == 200
    assert b"This site does not issue API tokens." in page.content
    assert client.post(URL, {"action": "create"}).status_code == 200
    assert b'href="/videogen/token/"' not in client.get("/videogen/").content
