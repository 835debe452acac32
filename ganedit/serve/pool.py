"""Loaded models of the HTTP service: a capped pool, and one worker thread per model that
batches concurrent requests.

Each model has one runner thread and one bounded queue. A request is decoded and begun
(:func:`ganedit.steps.begin_image`) in the server's thread pool, then queued; the runner
takes the oldest request, waits up to ``batch_wait`` seconds for more requests whose items have
the same ``key`` (equal padded shape), up to ``batch_size``, and runs them as one
``run_items`` call (dynamic batching). The event loop never runs a network.
"""

from __future__ import annotations

import collections
import dataclasses
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from ..errors import GaneditError
from ..model import Model, WorkItem

__all__ = ["Busy", "ModelPool", "ModelWorker"]


class Busy(GaneditError):
    """A model's queue is full; the client should retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int = 1):
        super().__init__(message)
        self.retry_after = retry_after


@dataclasses.dataclass(eq=False)
class _Request:
    item: WorkItem
    model: Model  # the worker's model with this request's options
    future: Future[Any]

    @property
    def batch_key(self) -> Any:
        return (self.item.key, self.model.options)


class ModelWorker:
    """One model's queue and runner thread.

    Args:
        model: The loaded model.
        batch_size: Most requests one network call takes.
        batch_wait: Seconds the runner waits for more requests of the same shape.
        queue_size: Requests that may wait; more are refused with :class:`Busy`.
    """

    def __init__(self, model: Model, *, batch_size: int, batch_wait: float, queue_size: int):
        self.model = model
        self.batch_size = max(1, batch_size)
        self.batch_wait = max(0.0, batch_wait)
        self._queue: queue.Queue[_Request | None] = queue.Queue(maxsize=queue_size)
        self._held: collections.deque[_Request] = collections.deque()
        self._stopping = False
        self.batches: list[int] = []  # sizes of the network calls made, for tests and stats
        self._thread = threading.Thread(
            target=self._run, name=f"ganedit-serve-{model.card.name}", daemon=True
        )
        self._thread.start()

    def submit(self, item: WorkItem, model: Model | None = None) -> Future[Any]:
        """Queue one begun image; the future gets the network's output for it. ``model`` is
        this worker's model with the request's options (requests batch only with requests of
        the same options and shape).

        Raises:
            Busy: The queue is full, or the worker is stopping.
        """
        if self._stopping:
            raise Busy(f"{self.model.card.name} is shutting down")
        request = _Request(item, model or self.model, Future())
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            raise Busy(
                f"{self.model.card.name} has {self._queue.maxsize} requests waiting"
            ) from None
        return request.future

    def stop(self, *, wait: bool = True) -> None:
        """Finish what is queued, then end the runner."""
        self._stopping = True
        self._queue.put(None)
        if wait:
            self._thread.join()

    def _next(self, timeout: float | None) -> _Request | None:
        if self._held:
            return self._held.popleft()
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def _run(self) -> None:
        while True:
            first = self._next(None)
            if first is None:
                if not self._held and self._queue.empty():
                    return
                continue
            group, others = [first], []
            deadline = time.monotonic() + self.batch_wait
            while len(group) < self.batch_size:
                left = deadline - time.monotonic()
                try:
                    request = (
                        self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
                if request is None:  # stop: run what is here, then end
                    self._queue.put(None)
                    break
                (group if request.batch_key == first.batch_key else others).append(request)
            self._held.extend(others)
            self._run_group(group)

    def _run_group(self, group: list[_Request]) -> None:
        # A request cancelled while it waited (its client went away) is not run.
        group = [request for request in group if request.future.set_running_or_notify_cancel()]
        if not group:
            return
        self.batches.append(len(group))
        try:
            outputs = group[0].model.run_items([request.item for request in group])
        except Exception as exc:  # every request of the batch gets the failure
            for request in group:
                request.future.set_exception(exc)
            return
        for request, output in zip(group, outputs, strict=True):
            request.future.set_result(output)


class ModelPool:
    """Models loaded on first use, at most ``max_models`` at once (least recently used goes).

    Args:
        load: Loads a model by name (raises ``GaneditError`` for an unknown one).
        max_models: Most models kept loaded.
        worker: Makes the worker of a loaded model.
    """

    def __init__(
        self,
        load: Callable[[str], Model],
        *,
        max_models: int,
        worker: Callable[[Model], ModelWorker],
    ):
        self._load = load
        self._worker = worker
        self.max_models = max(1, max_models)
        self._workers: collections.OrderedDict[str, ModelWorker] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, name: str) -> ModelWorker:
        """The worker of model ``name``, loading it (and evicting the least recently used)."""
        with self._lock:
            if name in self._workers:
                self._workers.move_to_end(name)
                return self._workers[name]
            lock = self._loading.setdefault(name, threading.Lock())
        with lock:  # one load per name, however many requests ask at once
            with self._lock:
                if name in self._workers:
                    return self._workers[name]
            worker = self._worker(self._load(name))
            evicted = []
            with self._lock:
                self._workers[name] = worker
                while len(self._workers) > self.max_models:
                    evicted.append(self._workers.popitem(last=False)[1])
        for old in evicted:
            old.stop(wait=False)  # it finishes what it holds, then its model is freed
        return worker

    def peek(self, name: str) -> ModelWorker | None:
        """The worker of ``name`` if it is loaded, without loading it."""
        with self._lock:
            return self._workers.get(name)

    def loaded(self) -> list[str]:
        with self._lock:
            return list(self._workers)

    def close(self) -> None:
        """Finish every queued request, then stop every worker."""
        with self._lock:
            workers = list(self._workers.values())
            self._workers.clear()
        for worker in workers:
            worker.stop(wait=True)
