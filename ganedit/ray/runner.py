"""The driver's side: :class:`RayRunner` turns a planned folder job into a Dataset of paths,
sizes the actors from the cluster, and streams the records back into the report."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import GaneditError
from ..loading import Runtime
from ..masks import MaskSource
from ..pipeline import FolderSettings, Record, remove_job_temporaries
from ..planning import Job
from ..report import FileResult
from .cluster import cause, connect, quiet_ray_logging
from .worker import ImageWorker, ModelSpec, results_of

__all__ = ["RayRunner"]


def _ray() -> Any:
    """The ``ray`` module with Ray Data, or an ImportError naming the extra to install."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ImportError(
            f"running on a Ray cluster needs Ray Data: pip install 'ganedit[ray]' ({exc})"
        ) from exc
    return ray


@dataclasses.dataclass(frozen=True)
class RayRunner:
    """Runs the files of :func:`ganedit.process_folder` on the actors of a Ray cluster.

    Example:
        >>> report = ganedit.process_folder(
        ...     ganedit.load("realesrgan-x4plus"), ["/data/photos"], "/data/x4",
        ...     runner=RayRunner(address="auto", actors=8))

    Attributes:
        address: The cluster (``"auto"``, ``"HOST:6379"``, ``"ray://HOST:10001"``); ``None``:
            the Ray this process has already started, else ``RAY_ADDRESS``, else a new local
            cluster on this machine, shut down when the job ends.
        actors: How many actors (each loads the model once). Default: one per GPU when the
            model runs on GPUs, else one per node.
        cpus_per_actor: CPUs Ray reserves for each actor. Default: 1 with GPUs; else the
            cluster's CPUs shared among the actors (and the network's threads set to match,
            unless the recipe says how many).
        gpus_per_actor: GPUs per actor (fractions share a GPU). Default: 1 when the cluster
            has GPUs and the model's device is not ``"cpu"``, else 0.
        rows_per_call: Files per ``map_batches`` call (a Ray task); their records come back
            together, and an actor that dies redoes them. Default: a quarter of each actor's
            share, at most 64 (or 4 network batches): each call costs Ray tens of
            milliseconds (RESULTS.md), and small jobs still spread over every actor.
    """

    address: str | None = None
    actors: int | None = None
    cpus_per_actor: float | None = None
    gpus_per_actor: float | None = None
    rows_per_call: int | None = None

    def __post_init__(self) -> None:
        for name in ("actors", "rows_per_call"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if self.cpus_per_actor is not None and self.cpus_per_actor <= 0:
            raise ValueError(f"cpus_per_actor must be > 0, got {self.cpus_per_actor}")
        if self.gpus_per_actor is not None and self.gpus_per_actor < 0:
            raise ValueError(f"gpus_per_actor must be >= 0, got {self.gpus_per_actor}")

    def run(
        self,
        model: Any,
        jobs: list[Job],
        settings: FolderSettings,
        masks: MaskSource | None,
        record: Record,
    ) -> None:
        spec = ModelSpec.of(model)
        ray = _ray()
        began = time.time()
        recorded = bytearray(len(jobs))  # by row: whether its record arrived
        started = connect(ray, self.address)
        try:
            plan = self._resources(ray, spec)
            ray.data.DataContext.get_current().enable_progress_bars = False  # ours instead
            quiet_ray_logging()
            records = _dataset(ray, jobs, self._rows(len(jobs), plan.actors, settings)).map_batches(
                ImageWorker,
                fn_constructor_kwargs={
                    "model": plan.spec,
                    "settings": settings,
                    "masks": None if masks is None else MaskSource(masks.path, masks.invert),
                    "skip_existing": False,  # the driver skipped the finished ones
                },
                batch_size=None,  # one call per block: the blocks are made rows_per_call long
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=plan.actors),
                num_cpus=plan.cpus,
                num_gpus=plan.gpus,
            )
            batches = records.iter_batches(batch_size=None, batch_format="numpy")
            try:
                for batch in batches:
                    for row, result in zip(batch["row"], results_of(batch), strict=True):
                        recorded[row] = 1
                        # The job's own paths, not copies: one record per file stays small.
                        job = jobs[row]
                        output = None if result.output is None else job.output
                        record(dataclasses.replace(result, source=job.source, output=output))
            finally:
                close = getattr(batches, "close", None)
                if close is not None:
                    close()
        except KeyboardInterrupt:
            if started:  # stop the actors first: none writes after the count below
                ray.shutdown()
                started = False
            # Records come back a call's files at a time: files written since the job began
            # whose record had not arrived are done all the same (writes are atomic).
            for job, arrived in zip(jobs, recorded, strict=True):
                if not arrived and _written_since(job.output, began):
                    record(FileResult(job.source, job.output, "done"))
            raise
        except GaneditError:
            raise
        except Exception as exc:
            if type(exc).__module__.split(".")[0] != "ray":
                raise
            what = "actors could not start" if "creation task" in str(exc) else "job failed"
            raise GaneditError(f"the Ray {what}: {cause(exc)}") from exc
        finally:
            if started:
                ray.shutdown()
            # A killed actor's temporary files: its process is gone, the job is over.
            remove_job_temporaries(jobs)

    def _rows(self, files: int, actors: int, settings: FolderSettings) -> int:
        if self.rows_per_call is not None:
            return self.rows_per_call
        most = max(64, 4 * settings.batch_size)
        return max(1, min(most, math.ceil(files / (4 * actors))))

    def _resources(self, ray: Any, spec: ModelSpec) -> _Plan:
        cluster = ray.cluster_resources()
        nodes = [node for node in ray.nodes() if node.get("Alive")]
        total_gpus = float(cluster.get("GPU", 0))
        device = spec.recipe.device
        if device == "cuda" and total_gpus == 0 and not self.gpus_per_actor:
            raise GaneditError("the model's device is cuda, but the Ray cluster has no GPUs")
        gpus = self.gpus_per_actor
        if gpus is None:
            gpus = 1.0 if total_gpus and device != "cpu" else 0.0
        actors = self.actors
        if actors is None:
            actors = max(1, int(total_gpus // gpus)) if gpus else max(1, len(nodes))
        _check_fits(nodes, "GPU", gpus, "--ray-gpus-per-actor")
        cpus = self.cpus_per_actor
        if cpus is not None:
            _check_fits(nodes, "CPU", cpus, "--ray-cpus-per-actor")
        else:
            if gpus:
                cpus = 1.0
            else:
                per_node = max((n.get("Resources", {}).get("CPU", 1) for n in nodes), default=1)
                cpus = float(max(1, min(per_node, cluster.get("CPU", 1) // actors)))
        runtime: Runtime = spec.recipe.runtime
        if not gpus and runtime.threads is None:
            # The network's threads fill the actor's share of the CPUs, not the whole node.
            runtime = dataclasses.replace(runtime, threads=max(1, int(cpus)))
        recipe = dataclasses.replace(spec.recipe, runtime=runtime)
        return _Plan(dataclasses.replace(spec, recipe=recipe), actors, cpus, gpus)


def _written_since(path: Path, began: float) -> bool:
    try:
        info = path.stat()
    except OSError:
        return False
    return info.st_size > 0 and info.st_mtime >= began


def _check_fits(nodes: list[dict[str, Any]], resource: str, each: float, option: str) -> None:
    """Refuse actors no node can hold: Ray would wait for such a node for ever."""
    if not each:
        return
    most = max((float(n.get("Resources", {}).get(resource, 0)) for n in nodes), default=0.0)
    if each > most:
        raise GaneditError(
            f"{option} {each:g}: no node of the Ray cluster has that many {resource}s "
            f"(the largest has {most:g})"
        )


@dataclasses.dataclass(frozen=True)
class _Plan:
    spec: ModelSpec
    actors: int
    cpus: float
    gpus: float


def _dataset(ray: Any, jobs: Sequence[Job], rows: int) -> Any:
    """The jobs as a Dataset of string columns and their index (``row``), one block per
    ``rows`` files (so that each map_batches call gets one block, and the actors share the
    work evenly)."""
    import pyarrow as pa

    blocks = []
    for start in range(0, len(jobs), rows):
        part = jobs[start : start + rows]
        blocks.append(
            pa.table(
                {
                    "source": pa.array([str(j.source) for j in part], pa.string()),
                    "output": pa.array([str(j.output) for j in part], pa.string()),
                    "mask": pa.array([str(j.mask or "") for j in part], pa.string()),
                    "row": pa.array(range(start, start + len(part)), pa.int64()),
                }
            )
        )
    return ray.data.from_arrow(blocks)
