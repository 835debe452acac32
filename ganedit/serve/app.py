"""The HTTP service: a versioned API over ganedit's models, on Starlette via FastAPI.

Requests carry the raw image bytes (or a multipart form with ``image`` and ``mask``), options
as query parameters with the CLI's names, and get back the encoded result: the bytes
``ganedit translate|upscale|inpaint`` would write for the same file, in the input's format
(``?format=png`` picks another). Errors are JSON, ``{"error": {"code", "message"}}``:

=====  ==================  ==============================================================
400    ``bad_image``       the upload is not an image ganedit reads (or its mask is bad)
401    ``unauthorized``    the server has a token and the request lacks it
404    ``unknown_model``   no such model offered (``unknown_task``, ``unknown_job`` alike)
409    ``not_done``        a job's result asked for before it is done
413    ``too_large``       over ``max_bytes``, ``max_pixels`` or the memory limit
422    ``bad_request``     an unknown or invalid option, or a model of another task
503    ``busy``            the model's queue is full (``Retry-After`` says when to retry)
=====  ==================  ==============================================================

Long jobs (``POST /v1/jobs/{task}/{name}`` → 202 with an id; ``GET /v1/jobs/{id}`` for status
and progress, counted in tile batches for upscales; ``GET /v1/jobs/{id}/result``;
``DELETE /v1/jobs/{id}``) serve editor plugins that show a progress bar. A direct request whose
client disconnects is cancelled: never run if it still waits, stopped at its next tile batch if
it runs.

Request paths never name files: models come from the zoo or from ``models_dir``.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations
# (``Request``, imported inside create_app) as objects.
import asyncio
import dataclasses
import os
import threading
from collections.abc import AsyncIterator
from concurrent.futures import CancelledError as CancelledFuture
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from .. import imageio
from ..errors import GaneditError, ImageError
from ..masks import MaskError, hole_from_decoded
from ..model import Model
from ..resolve import CHECKPOINT_SUFFIXES
from ..steps import begin_image, finish_image, memory_budget
from .jobs import Cancelled, Job, Jobs, stopper
from .pool import ModelPool, ModelWorker
from .requests import (
    ApiError,
    TokenMiddleware,
    parse_format,
    parse_int,
    read_upload,
    submit,
    with_query_options,
)

__all__ = ["ServeSettings", "create_app"]

TASKS = ("translate", "upscale", "inpaint")
_MODEL_SUFFIXES = (".onnx", *CHECKPOINT_SUFFIXES)
_MEDIA_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "TIFF": "image/tiff",
    "BMP": "image/bmp",
}


@dataclasses.dataclass(frozen=True)
class ServeSettings:
    """How the service runs (``ganedit serve``'s options).

    Attributes:
        models: The model names offered; empty: every zoo model and every file in
            ``models_dir``.
        models_dir: A folder of model files (``.onnx`` and checkpoints), offered by file name.
        token: A bearer token every request must carry (``Authorization: Bearer TOKEN``).
        cors: Origins allowed to call the API from a browser page; none by default.
        max_models: Models kept loaded at once; the least recently used goes.
        batch_size: Most concurrent requests of one model and shape run as one batch.
        batch_wait_ms: How long a request waits for others to batch with.
        queue: Requests that may wait per model; more get 503.
        max_bytes: Largest upload.
        max_pixels: Largest image, in pixels.
        max_memory: Bytes one image may take (estimated before decoding); 0: no limit.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        allow_noncommercial: Load models under non-commercial licences.
    """

    models: tuple[str, ...] = ()
    models_dir: Path | None = None
    token: str | None = None
    cors: tuple[str, ...] = ()
    max_models: int = 2
    batch_size: int = 4
    batch_wait_ms: float = 5.0
    queue: int = 64
    max_bytes: int = 256 << 20
    max_pixels: int = 100_000_000
    max_memory: int = 0
    device: str = "auto"
    allow_noncommercial: bool = False


class _Catalogue:
    """The model names the service offers, and how each loads."""

    def __init__(self, settings: ServeSettings):
        self.settings = settings

    def files(self) -> dict[str, Path]:
        folder = self.settings.models_dir
        if folder is None or not folder.is_dir():
            return {}
        return {
            path.name: path
            for path in sorted(folder.iterdir())
            if path.is_file() and path.suffix.lower() in _MODEL_SUFFIXES
        }

    def names(self) -> dict[str, str]:
        """Offered name -> where it comes from (``"dir"`` or ``"zoo"``)."""
        from .. import zoo

        offered = {name: "dir" for name in self.files()}
        for entry in zoo.default_registry():
            offered.setdefault(entry.name, "zoo")
        if self.settings.models:
            offered = {name: offered[name] for name in self.settings.models if name in offered}
        return offered

    @staticmethod
    def task(name: str, source: str, pool: ModelPool) -> str | None:
        """A model's task when known without loading it (a zoo entry, a loaded model)."""
        from .. import zoo

        worker = pool.peek(name)
        if worker is not None:
            return worker.model.card.task
        return zoo.default_registry().get(name).task if source == "zoo" else None

    def target(self, name: str) -> str:
        """What :func:`ganedit.load` is given for ``name``.

        Raises:
            ApiError: 404, the name is not offered.
        """
        offered = self.names()
        if name not in offered:
            raise ApiError(404, "unknown_model", f"no model named {name!r} is offered here")
        if offered[name] == "dir":
            return str(self.files()[name])
        return name


def _load(settings: ServeSettings, catalogue: _Catalogue) -> Any:
    from ..loading import Runtime, load

    def load_model(name: str) -> Model:
        return load(
            catalogue.target(name),
            device=settings.device,  # type: ignore[arg-type]
            runtime=Runtime(allow_noncommercial=settings.allow_noncommercial),
        )

    return load_model


def create_app(settings: ServeSettings | None = None) -> Any:
    """The ASGI application (FastAPI): ``uvicorn.run(create_app(settings))``."""
    settings = settings or ServeSettings()
    try:
        from fastapi import FastAPI, Request
        from fastapi.responses import JSONResponse, Response
        from starlette.concurrency import run_in_threadpool
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise ImportError('ganedit serve needs: pip install "ganedit[serve]"') from exc

    catalogue = _Catalogue(settings)
    pool = ModelPool(
        _load(settings, catalogue),
        max_models=settings.max_models,
        worker=lambda model: ModelWorker(
            model,
            batch_size=settings.batch_size,
            batch_wait=settings.batch_wait_ms / 1000,
            queue_size=settings.queue,
        ),
    )

    jobs = Jobs()

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(pool.close)  # finish the requests in flight

    app = FastAPI(
        title="ganedit",
        version=_version(),
        summary="GAN image editing over HTTP: translate, upscale and inpaint images.",
        lifespan=lifespan,
    )
    app.state.pool = pool
    if settings.cors:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            {"error": {"code": exc.code, "message": exc.message}},
            status_code=exc.status,
            headers=exc.headers,
        )

    if settings.token is not None:
        # A plain ASGI middleware: Starlette's BaseHTTPMiddleware would hide a client's
        # disconnect from the endpoints (which cancel the work of clients that went away).
        app.add_middleware(TokenMiddleware, token=settings.token)

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        """The page for people: pick a model, drop an image, paint a mask, run, compare."""
        html = (Path(__file__).parent / "static" / "index.html").read_bytes()
        return Response(html, media_type="text/html; charset=utf-8")

    @app.get("/v1/health")
    async def health() -> dict[str, Any]:
        """Whether the service runs, and which models are loaded."""
        return {"status": "ok", "version": _version(), "loaded": pool.loaded()}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        """Every model offered: its name, where it comes from, and whether it is loaded."""
        loaded = set(pool.loaded())
        return {
            "models": [
                {
                    "name": name,
                    "source": source,
                    "task": catalogue.task(name, source, pool),
                    "loaded": name in loaded,
                }
                for name, source in catalogue.names().items()
            ]
        }

    @app.get("/v1/models/{name}")
    async def model_card(name: str) -> dict[str, Any]:
        """A model's card (loading the model)."""
        worker = await _worker(name)
        return worker.model.card.to_dict()

    async def _prepare(task: str, name: str, request: Request) -> tuple[Any, ...]:
        """The worker, the model with the request's options, and the encoding options."""
        if task not in TASKS:
            raise ApiError(404, "unknown_task", f"no task {task!r}; tasks: {', '.join(TASKS)}")
        worker = await _worker(name)
        other = worker.model.card.task
        if other != task:
            article = "an" if other[0] in "aeiou" else "a"
            message = f"{name} is {article} {other} model: POST /v1/{other}/{name}"
            raise ApiError(422, "bad_request", message)
        query = {key.replace("-", "_"): value for key, value in request.query_params.items()}
        model = with_query_options(worker.model, query)
        out_format = parse_format(query.get("format"))
        quality = parse_int(query, "jpeg_quality", 95, 1, 100)
        invert = query.get("invert_mask") in ("1", "true")
        return worker, model, out_format, quality, invert

    async def _worker(name: str) -> ModelWorker:
        loaded = pool.peek(name)
        if loaded is not None:  # the usual case: no folder listing per request
            return loaded
        catalogue.target(name)  # 404 before any loading
        try:
            return await run_in_threadpool(pool.get, name)
        except (GaneditError, ImportError, ValueError, OSError) as exc:
            raise ApiError(422, "bad_request", f"{name} cannot be loaded: {exc}") from exc

    @app.post("/v1/{task}/{name}")
    async def run(task: str, name: str, request: Request) -> Response:
        """Run model ``name`` on one image: the raw bytes as the body, or a multipart form
        with ``image`` (and ``mask`` for inpainting). Options are query parameters with the
        CLI's names (``tile``, ``outscale``, ``strategy``, ...); ``format`` and
        ``jpeg_quality`` choose the encoding of the result."""
        worker, model, out_format, quality, invert = await _prepare(task, name, request)
        image, mask = await read_upload(request, settings.max_bytes)
        begun = await run_in_threadpool(_begin, model, image, mask, out_format, invert)
        gone = threading.Event()
        begun.item.progress = stopper(gone)
        future = submit(worker, begun, model)
        waiting = asyncio.ensure_future(asyncio.wrap_future(future))
        while not waiting.done():
            await asyncio.wait({waiting}, timeout=0.25)
            if not waiting.done() and await request.is_disconnected():
                gone.set()  # a running tiled upscale stops at its next tile batch
                future.cancel()  # a waiting one is never run
                raise ApiError(499, "cancelled", "the client went away")
        output = waiting.result()
        body = await run_in_threadpool(finish_image, model, begun, output, jpeg_quality=quality)
        return Response(body, media_type=_MEDIA_TYPES[begun.format])

    # -- long jobs: submit, poll progress, fetch the result, cancel ---------------------------

    @app.post("/v1/jobs/{task}/{name}", status_code=202)
    async def submit_job(task: str, name: str, request: Request) -> JSONResponse:
        """Like ``POST /v1/{task}/{name}``, but answers at once with a job id; poll
        ``GET /v1/jobs/{id}`` for its status and progress (tiles done, for upscales), then
        ``GET /v1/jobs/{id}/result``. ``DELETE /v1/jobs/{id}`` cancels it."""
        worker, model, out_format, quality, invert = await _prepare(task, name, request)
        image, mask = await read_upload(request, settings.max_bytes)
        begun = await run_in_threadpool(_begin, model, image, mask, out_format, invert)
        job = jobs.new()
        begun.item.progress = job.on_progress
        future = submit(worker, begun, model)
        job.task = asyncio.ensure_future(_finish_job(job, future, model, begun, quality))
        return JSONResponse(job.describe(), status_code=202, headers={"Location": job.url})

    async def _finish_job(job: Job, future: Any, model: Model, begun: Any, quality: int) -> None:
        try:
            output = await asyncio.wrap_future(future)
            job.result = await run_in_threadpool(
                finish_image, model, begun, output, jpeg_quality=quality
            )
            job.media_type = _MEDIA_TYPES[begun.format]
            job.status, job.progress = "done", 1.0
        except (asyncio.CancelledError, CancelledFuture, Cancelled):
            job.status = "cancelled"
        except Exception as exc:  # the job's failure is its status, not the server's
            job.status, job.error = "failed", str(exc) or type(exc).__name__

    @app.get("/v1/jobs/{job_id}")
    async def job_status(job_id: str) -> dict[str, Any]:
        """A job's status (``queued``, ``running``, ``done``, ``failed``, ``cancelled``) and
        progress (0..1)."""
        return jobs.get(job_id).describe()

    @app.get("/v1/jobs/{job_id}/result")
    async def job_result(job_id: str) -> Response:
        """A done job's image (409 while it runs; its error if it failed)."""
        job = jobs.get(job_id)
        if job.status == "failed":
            raise ApiError(422, "failed", job.error or "the job failed")
        if job.status != "done" or job.result is None:
            raise ApiError(409, "not_done", f"the job is {job.status}")
        return Response(job.result, media_type=job.media_type)

    @app.delete("/v1/jobs/{job_id}")
    async def cancel_job(job_id: str) -> dict[str, Any]:
        """Cancel a job: a queued one never runs, a running tiled upscale stops at its next
        tile batch."""
        job = jobs.get(job_id)
        job.cancel()
        return job.describe()

    def _begin(model: Model, data: bytes, mask: bytes | None, fmt: str | None, invert: bool) -> Any:
        limit_pixels = settings.max_pixels
        memory = memory_budget(model, settings.max_memory)

        def budget(height: int, width: int, channels: int, itemsize: int) -> None:
            if height * width > limit_pixels:
                raise ApiError(
                    413, "too_large", f"the image has {height * width} pixels, over {limit_pixels}"
                )
            try:
                memory(height, width, channels, itemsize)
            except GaneditError as exc:
                raise ApiError(413, "too_large", str(exc)) from None

        try:
            image = imageio.decode_bytes(data, name="the image", budget=budget)
            hole = None
            if mask is not None:
                hole = hole_from_decoded(imageio.decode_bytes(mask, name="the mask"), invert=invert)
            target = fmt or (image.format if image.format in _MEDIA_TYPES else "PNG")
            return begin_image(model, image, format=target, hole=hole)
        except ApiError:
            raise
        except (ImageError, MaskError, GaneditError) as exc:
            raise ApiError(400, "bad_image", str(exc)) from exc

    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ganedit")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return os.environ.get("GANEDIT_VERSION", "0")
