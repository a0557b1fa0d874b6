"""The browser harness itself: Chromium opens the live site and a screenshot is saved."""

import pytest

from tests.browser.conftest import log_in
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_reach_the_admin_index_in_a_real_browser(page, screenshot):
    make_user("staff", is_staff=True, is_superuser=True)
    log_in(page, "staff", "x")
    assert page.locator("#site-name").is_visible()
    assert screenshot(page, "admin-index").stat().st_size > 0
