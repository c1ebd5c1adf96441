"""A page of one item asked for without its ``id`` (an address typed or cut short) says so in a page, not in the
framework's JSON ``422``; a page asked for by an unknown ``id`` says it is not found. Plain HTTP with a session cookie:
no browser needed for text."""

from __future__ import annotations

import httpx
import pytest

from tests.catalog.conftest import TOKEN, Server


@pytest.mark.parametrize("path", ["/dataset", "/quarantine", "/job", "/run", "/dataset?id="])
def test_a_page_of_one_item_without_its_id_says_which_is_missing(server: Server, path: str) -> None:
    with httpx.Client(base_url=server.url) as browser:
        assert browser.post("/login", data={"token": TOKEN}).status_code == 303
        answer = browser.get(path)
        unknown = browser.get(path.split("?")[0], params={"id": "nope"})
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")
    assert "Which one?" in answer.text and "name it with ?id=" in answer.text
    assert unknown.status_code == 404 and "Not found" in unknown.text
