"""A visitor signs up, rates five movies and sees their recommendations change (real chromium)."""

from __future__ import annotations

import re

import pytest

from tests.recommender_django.helpers import slice_load
from tests.support.browser import PageProblems, chromium, screenshot

LIKED = (1, 3114, 2355, 588, 364)  # Toy Story 1 and 2, A Bug's Life, Aladdin, The Lion King


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_sign_up_rate_five_movies_and_see_recommendations_change(live_server, served, slice_frames) -> None:  # noqa: ANN001
    slice_load(slice_frames)  # transactional tests start from whatever the previous one left
    base = live_server.url
    with chromium() as browser:
        page = browser.new_page()
        problems = PageProblems()
        problems.attach(page)
        page.goto(f"{base}/accounts/signup/")
        page.fill("#id_username", "playwright")
        page.fill("#id_password1", "a-long-browser-password")
        page.fill("#id_password2", "a-long-browser-password")
        page.click("#signup-form button[type=submit]")
        page.wait_for_url(f"{base}/")
        assert "Log out playwright" in page.content()

        page.goto(f"{base}/recommendations/")
        assert "popular movies" in page.content()
        before = page.locator("#recommendations .title").all_inner_texts()
        assert len(before) >= 10

        for movie in LIKED:
            page.goto(f"{base}/movies/{movie}/")
            page.select_option("#id_value", "5")
            page.click("#rate-form button[type=submit]")
            page.wait_for_selector("#your-rating")
            assert page.locator("#your-rating").inner_text().startswith("5")

        page.goto(f"{base}/recommendations/")
        after = page.locator("#recommendations .title").all_inner_texts()
        assert "From your 5 ratings" in page.content()
        assert after != before and not set(after) & {"Toy Story", "Toy Story 2", "Aladdin"}
        because = page.locator("#recommendations .because").all_inner_texts()
        assert because and all(re.match(r"Because you rated ", b) for b in because)
        page.goto(f"{base}/me/ratings/")
        assert page.locator("#my-ratings tbody tr").count() == 5
        page.goto(f"{base}/")
        screenshot(page, "recommender")
        problems.assert_clean()
