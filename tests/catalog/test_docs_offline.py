"""``/docs`` serves Swagger UI from the package's vendored assets, not from a CDN (issue 13.7); ReDoc is off.
(The browser test ``tests/catalog/ui`` also renders it with every off-machine request refused.)"""

from __future__ import annotations

import re

import httpx

from tests.catalog.conftest import Server


def test_docs_reference_only_local_assets(module_server: Server) -> None:
    page = httpx.get(f"{module_server.url}/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]+)['"]""", page.text)
    assets += re.findall(r"""url:\s*['"]([^'"]+)['"]""", page.text)
    assert assets and all(a.startswith("/") for a in assets), assets
    assert "cdn." not in page.text and "https://" not in page.text
    for asset in assets:
        assert httpx.get(f"{module_server.url}{asset}").status_code == 200, asset
    assert httpx.get(f"{module_server.url}/redoc").status_code == 404
