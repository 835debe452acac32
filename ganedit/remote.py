"""A model behind ``ganedit serve``, called like a local one.

``ganedit.load("http://127.0.0.1:8765/v1/models/NAME")`` (or ``ganedit.connect(URL).load(NAME)``)
returns a :class:`RemoteModel`: ``model(image)``, ``model(image, mask)``, ``model.card`` and
``model.with_options(...)`` as for a local model, so a pipeline moves from in-process to a server
by changing one string. Images travel as lossless PNG (8 or 16 bits, alpha kept) and come back
as what the local model would return: the same type (PIL image or array) and the same pixels.
Only the standard library is used (``urllib``); the token is ``token=`` or ``$GANEDIT_TOKEN``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from . import imageio
from ._files import atomic_write
from .card import ModelCard
from .codec import quantise
from .errors import GaneditError
from .images import join, mask_array, split
from .masks import MaskSource, hole_from_array
from .pipeline import FolderSettings, Record, failure_reason
from .planning import Job
from .report import FileResult

if TYPE_CHECKING:
    import urllib.error

__all__ = ["RemoteError", "RemoteModel", "RemoteRunner", "Server", "connect"]


class RemoteError(GaneditError):
    """The server answered with an error: its HTTP ``status`` and its ``message``."""

    def __init__(self, text: str, status: int, message: str):
        super().__init__(text)
        self.status, self.message = status, message


class Server:
    """A running ``ganedit serve``: ``Server("http://127.0.0.1:8765").load("horse2zebra")``."""

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 600.0):
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get("GANEDIT_TOKEN")
        self.timeout = timeout

    def load(self, name: str) -> RemoteModel:
        """The model ``name`` on this server (its card is fetched now; the server loads it)."""
        card = ModelCard.from_dict(json.loads(self._request(f"/v1/models/{_quote(name)}")))
        return RemoteModel(self, name, card)

    def models(self) -> list[dict[str, Any]]:
        """What the server offers (``GET /v1/models``)."""
        return list(json.loads(self._request("/v1/models"))["models"])

    def _request(
        self, path: str, data: bytes | None = None, content_type: str | None = None
    ) -> bytes:
        import urllib.error  # here: `import ganedit` stays light
        import urllib.request

        headers = {"Accept": "*/*"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(
            self.url + path, data=data, headers=headers, method="POST" if data else "GET"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            message = _message(exc)
            raise RemoteError(
                f"{self.url}{path}: {exc.code} {message}", exc.code, message
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GaneditError(f"cannot reach ganedit serve at {self.url}: {reason}") from None


def connect(url: str, *, token: str | None = None) -> Server:
    """The server at ``url`` (``http://HOST:PORT``)."""
    return Server(url, token=token)


@dataclasses.dataclass(frozen=True)
class RemoteModel:
    """A model on a ``ganedit serve``, with the local call shape."""

    server: Server
    name: str
    card: ModelCard
    options: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def from_url(cls, url: str, *, token: str | None = None) -> RemoteModel:
        """``http://HOST:PORT/v1/models/NAME`` -> the model ``NAME`` on that server."""
        parts = urllib.parse.urlsplit(url)
        prefix = "/v1/models/"
        if not parts.path.startswith(prefix) or len(parts.path) == len(prefix):
            raise GaneditError(f"{url}: a served model's URL is http://HOST:PORT/v1/models/NAME")
        base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        name = urllib.parse.unquote(parts.path[len(prefix) :])
        return Server(base, token=token).load(name)

    @property
    def requires_mask(self) -> bool:
        return self.card.task == "inpaint"

    def with_options(self, options: Any = None, /, **changes: Any) -> RemoteModel:
        """A copy whose requests carry these options (by name, or an options object such as
        ``UpscaleOptions(...)``, as for a local model); the server checks them."""
        if options is not None:  # the fields that differ from the options class's defaults
            default = type(options)()
            changes = {
                field.name: getattr(options, field.name)
                for field in dataclasses.fields(options)
                if getattr(options, field.name) != getattr(default, field.name)
            } | changes
        merged = dict(self.options) | changes
        return dataclasses.replace(self, options=tuple(sorted(merged.items())))

    def __call__(self, image: Any, mask: Any = None) -> Any:
        """Run the model on ``image`` (a PIL image or an array), like a local model."""
        from PIL import Image

        if self.requires_mask and mask is None:
            raise GaneditError(f"{self.name} is an inpainting model: call it with a mask")
        color, alpha = split(image)
        if color.dtype.kind == "f":  # PNG holds no floats: sent as 16 bits
            color = quantise(color, np.uint16)
            alpha = None if alpha is None else quantise(alpha, np.uint16)
        upload = imageio.encode_bytes(color, alpha, format="PNG")
        query = urllib.parse.urlencode([(k, _text(v)) for k, v in self.options])
        path = f"/v1/{self.card.task}/{_quote(self.name)}" + (f"?{query}" if query else "")
        if mask is None:
            body = self.server._request(path, upload, "image/png")
        else:
            hole = hole_from_array(mask_array(mask))
            mask_png = imageio.encode_bytes(hole.astype(np.uint8) * 255, format="PNG")
            data, content_type = _multipart({"image": upload, "mask": mask_png})
            body = self.server._request(path, data, content_type)
        result = imageio.decode_bytes(body, name=f"the result from {self.server.url}")
        if not isinstance(image, Image.Image) and np.asarray(image).dtype.kind == "f":
            full = np.float32(np.iinfo(result.color.dtype).max)
            color_f = result.color.astype(np.float32) / full
            alpha_f = None if result.alpha is None else result.alpha.astype(np.float32) / full
            return join(image, color_f, alpha_f)
        return join(image, result.color, result.alpha)

    def request_file(
        self,
        data: bytes,
        *,
        mask: bytes | None = None,
        format: str | None = None,
        jpeg_quality: int = 95,
    ) -> bytes:
        """The server's answer for an encoded image file (and mask file): the bytes the
        folder job writes for that file, as ``format`` (Pillow's name; default the input's)."""
        pairs = [(k, _text(v)) for k, v in self.options]
        if format is not None:
            pairs.append(("format", format.lower()))
        pairs.append(("jpeg_quality", str(jpeg_quality)))
        path = f"/v1/{self.card.task}/{_quote(self.name)}?" + urllib.parse.urlencode(pairs)
        if mask is None:
            return self.server._request(path, data, "application/octet-stream")
        body, content_type = _multipart({"image": data, "mask": mask})
        return self.server._request(path, body, content_type)

    def __repr__(self) -> str:
        return f"RemoteModel({self.name!r} at {self.server.url})"


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _text(value: Any) -> str:
    return (
        "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    )


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read())["error"]["message"])
    except (ValueError, KeyError, TypeError, OSError):
        return str(exc.reason)


def _multipart(files: dict[str, bytes]) -> tuple[bytes, str]:
    boundary = "ganedit" + os.urandom(12).hex()
    parts = []
    for field, data in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{field}.png"\r\nContent-Type: image/png\r\n\r\n'.encode()
            + data
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class RemoteRunner:
    """Runs a folder job's files on a ``ganedit serve`` (the :class:`~ganedit.pipeline.JobRunner`
    that :func:`~ganedit.process_folder` picks for a :class:`RemoteModel`)."""

    def run(
        self,
        model: RemoteModel,
        jobs: list[Job],
        settings: FolderSettings,
        masks: MaskSource | None,
        record: Record,
    ) -> None:
        """Each file's bytes (and mask) go to the server, which answers with the bytes the local
        pipeline would write; they are written atomically. ``workers`` requests are in flight
        at once (the server batches them)."""

        def one(job: Job) -> FileResult:
            try:
                data = imageio.decode.read_regular_file(job.source)
                mask = None if job.mask is None else imageio.decode.read_regular_file(job.mask)
                fmt = imageio.format_for_suffix(job.output.suffix)
                body = model.request_file(
                    data, mask=mask, format=fmt, jpeg_quality=settings.jpeg_quality
                )
                job.output.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(job.output, lambda f: f.write(body), fsync=settings.fsync)
            except RemoteError as exc:  # the server's reason, without its URL
                reason = exc.message.removeprefix("the image: ")
                return FileResult(job.source, None, "failed", f"{reason} (server: {exc.status})")
            except (GaneditError, OSError) as exc:
                return FileResult(job.source, None, "failed", failure_reason(exc, job.source))
            return FileResult(job.source, job.output, "done")

        with ThreadPoolExecutor(settings.workers or 4, thread_name_prefix="ganedit-remote") as pool:
            futures = [pool.submit(one, job) for job in jobs]
            try:
                for future in futures:
                    record(future.result())
            except BaseException:
                for future in futures:
                    future.cancel()  # the ones in flight finish; the rest are left for a rerun
                raise
