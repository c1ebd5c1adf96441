"""``/docs``: Swagger UI for the API's OpenAPI description, from the vendored ``swagger-ui-dist`` (no CDN; FastAPI's
default page loads it from jsDelivr). ReDoc (``/redoc``) is not served."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

__all__ = ["SWAGGER", "router"]

SWAGGER = "/ui/static/vendor/swagger-ui-5.35.0"

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="streamproc catalog API",
        swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
    )
