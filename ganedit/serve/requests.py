"""The request side of the HTTP service: errors as JSON, the token, uploads, options."""

from __future__ import annotations

import dataclasses
import hmac
from typing import Any

from .. import imageio
from ..errors import GaneditError, ImageError
from ..model import Model
from .pool import Busy, ModelWorker

__all__ = [
    "ApiError",
    "TokenMiddleware",
    "parse_format",
    "parse_int",
    "read_upload",
    "submit",
    "with_query_options",
]

# Query parameters that are not model options.
_RESERVED = frozenset({"format", "jpeg_quality", "invert_mask"})


class ApiError(Exception):
    """An error answered as JSON with its HTTP status and stable code."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


class TokenMiddleware:
    """Answers 401 to an API request without ``Authorization: Bearer TOKEN``."""

    def __init__(self, app: Any, token: str):
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                from starlette.responses import JSONResponse

                response = JSONResponse(
                    {"error": {"code": "unauthorized", "message": "a bearer token is required"}},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def submit(worker: ModelWorker, begun: Any, model: Model) -> Any:
    try:
        return worker.submit(begun.item, model)
    except Busy as exc:
        raise ApiError(503, "busy", str(exc), {"Retry-After": str(exc.retry_after)}) from exc


async def read_upload(request: Any, max_bytes: int) -> tuple[bytes, bytes | None]:
    """The image (and mask) of a request: a multipart form, or the raw body."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise ApiError(413, "too_large", f"the upload is {length} bytes, over {max_bytes}")
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_part_size=max_bytes)
        image = form.get("image")
        if image is None or isinstance(image, str):
            raise ApiError(400, "bad_image", "the form has no file field named 'image'")
        mask = form.get("mask")
        mask_bytes = None if mask is None or isinstance(mask, str) else await mask.read()
        return await image.read(), mask_bytes
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise ApiError(413, "too_large", f"the upload is over {max_bytes} bytes")
    if not body:
        raise ApiError(400, "bad_image", "the request has no image (an empty body)")
    return bytes(body), None


def with_query_options(model: Model, query: dict[str, str]) -> Model:
    """``model`` with the query's options (parsed to the options' field types)."""
    fields = {f.name: f for f in dataclasses.fields(model.options)}
    changes: dict[str, Any] = {}
    for key, text in query.items():
        if key in _RESERVED:
            continue
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ApiError(422, "bad_request", f"unknown option {key!r}; options: {known}")
        changes[key] = _parse(text, getattr(model.options, key))
    try:
        return model.with_options(**changes) if changes else model
    except (TypeError, ValueError, GaneditError) as exc:
        raise ApiError(422, "bad_request", f"invalid options: {exc}") from exc


def _parse(text: str, current: Any) -> Any:
    """A query value as the type of the option's current value."""
    if text.lower() in ("none", "null", ""):
        return None
    if isinstance(current, bool):
        return text.lower() in ("1", "true", "yes", "on")
    for kind in (int, float):
        if isinstance(current, kind) or current is None:
            try:
                return kind(text)
            except ValueError:
                if current is not None:
                    raise ApiError(422, "bad_request", f"not a number: {text!r}") from None
    return text


def parse_int(query: dict[str, str], key: str, default: int, low: int, high: int) -> int:
    text = query.get(key)
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise ApiError(422, "bad_request", f"{key} must be an integer in {low}..{high}")
    return int(text)


def parse_format(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        fmt = imageio.format_for_suffix(text)
    except ImageError as exc:
        raise ApiError(422, "bad_request", str(exc)) from None
    return fmt
