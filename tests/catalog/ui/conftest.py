"""The catalog UI's browser tests: one catalog fed once by real pipeline runs (``scenario.feed``), one headless Debian
Chromium (``deploy/chromium/install.sh``, which ``make test`` runs) driven by Playwright for Python, logged in once;
every request that would leave the machine is refused and recorded.

Module-scoped, not session-scoped: Playwright's sync API runs an asyncio loop in the main thread while it is open,
which would break every later test that runs its own loop (``anyio.run``); all browser tests live in one module, so
the catalog is still fed once and the browser started once.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import BrowserContext, Page, Route, sync_playwright

from tests.catalog.ui.scenario import Fed, feed
from tests.fixtures.lineage import TOKEN, CatalogServer
from tests.fixtures.waiting import DEADLINE_SECONDS

CHROMIUM = Path(os.environ.get("CATALOG_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # the tests run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[3]
# `make test` leaves the committed docs/screenshots alone (var/ is not tracked); `make catalog-screenshots` refreshes
# them by pointing CATALOG_UI_SCREENSHOTS there.
SCREENSHOTS = Path(os.environ.get("CATALOG_UI_SCREENSHOTS", REPO / "var" / "ui-screenshots"))


@dataclass
class Ui:
    """The fed catalog, the browser context logged in to it, and the requests it refused to send off the machine."""

    catalog: CatalogServer
    fed: Fed
    context: BrowserContext
    outside: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.catalog.url

    def login(self, page: Page) -> None:
        page.goto(f"{self.url}/login")
        page.get_by_label("API token").fill(TOKEN)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{self.url}/")

    def screenshot(self, page: Page, name: str) -> None:
        """Save the page as ``<CATALOG_UI_SCREENSHOTS>/<name>.png`` (``docs/screenshots``: shown in the README and
        docs/lineage.md)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Ui]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run deploy/chromium/install.sh (make test does)", pytrace=False)
    workdir = tmp_path_factory.mktemp("catalog-ui")
    catalog = CatalogServer(workdir)
    try:
        catalog.start()
        fed = feed(workdir, catalog, kafka_bootstrap)
        profile = workdir / "chromium-profile"  # a fresh user-data dir: no state from earlier runs
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(profile),
                executable_path=str(CHROMIUM),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 900},
            )
            context.set_default_timeout(DEADLINE_SECONDS * 1000)  # a deadline for a loaded machine, not an expectation
            state = Ui(catalog=catalog, fed=fed, context=context)

            def local_only(route: Route) -> None:
                host = urlparse(route.request.url).hostname
                if route.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
                    route.continue_()
                else:
                    state.outside.append(route.request.url)
                    route.abort()

            context.route("**/*", local_only)
            try:
                yield state
            finally:
                context.close()
        shutil.rmtree(profile, ignore_errors=True)
    finally:
        catalog.close()


@pytest.fixture
def page(ui: Ui) -> Iterator[Page]:
    """A tab of the shared browser, logged in."""
    tab = ui.context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    if not ui.context.cookies(ui.url):
        ui.login(tab)
    try:
        yield tab
    finally:
        tab.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not ui.outside, f"requests that would have left the machine: {ui.outside}"
