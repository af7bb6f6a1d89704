"""The search API and web page for shop frontends (``ampere serve``): FastAPI over ``ampere.search.Search``.

``create_app(settings, redis_url)`` builds the app; ``/docs`` and ``/openapi.json`` describe every endpoint, ``/``
is the page (``ampere/api/static``). Needs the ``serve`` extra (fastapi, uvicorn, python-multipart,
prometheus-client).
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "app_from_env"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from ampere.api import app

        return getattr(app, name)
    raise AttributeError(f"module 'ampere.api' has no attribute {name!r}")
