"""``ganedit serve``: a local HTTP service over ganedit's models (needs ``ganedit[serve]``).

:func:`create_app` builds the ASGI application from :class:`ServeSettings`; the CLI runs it
with uvicorn. Nothing here is imported by ``import ganedit``.
"""

from __future__ import annotations

from .app import ServeSettings, create_app

__all__ = ["ServeSettings", "create_app"]
