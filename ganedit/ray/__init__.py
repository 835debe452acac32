"""Folder jobs on a Ray cluster, with Ray Data: the same outputs and report as a local run.

::

    driver: plan ─► Dataset of paths ─► map_batches(ImageWorker, N actors) ─► records
                    (source, output,    each actor holds one loaded model,    (row, status,
                     mask, row)         reads, runs and writes its files      reason, seconds)

Only file paths go to the actors and only small per-file records come back: pixels never pass
through Ray's object store, and images of any size are fine (Ray's tensor columns want one
size). Each actor runs its share with the local pipeline's own code
(:func:`ganedit.pipeline.run_jobs`: decode threads, batches of equal shapes, encode threads,
atomic writes), so outputs are byte for byte those of a local run. An actor that dies is
restarted by Ray and its files are done again; writes are atomic, so no output is ever half
written, and the temporaries of a killed actor are removed when the job ends.

Two ways in:

- :class:`RayRunner` runs :func:`ganedit.process_folder` on a cluster (``ganedit translate …
  --ray``): the driver lists the inputs, matches masks and skips finished outputs as a local run
  does; the actors do the rest.
- :class:`ImageWorker` is the callable class for your own pipelines: a Dataset with a
  ``source`` column of paths, ``map_batches(ImageWorker, fn_constructor_kwargs=...)``.

Example:
    >>> import ray, ganedit
    >>> from ganedit.ray import ImageWorker
    >>> paths = ray.data.read_text("listing.txt").rename_columns({"text": "source"})
    >>> records = paths.map_batches(
    ...     ImageWorker,
    ...     fn_constructor_kwargs={"model": "realesrgan-x4plus", "root": "/data/photos",
    ...                            "output_dir": "/data/x4"},
    ...     batch_size=16, compute=ray.data.ActorPoolStrategy(size=4), num_gpus=1)
    >>> failed = records.filter(lambda r: r["status"] == "failed").take_all()

This module imports Ray only when a cluster is used (``pip install 'ganedit[ray]'``).
"""

from .cluster import Notices
from .runner import RayRunner
from .worker import RECORD_COLUMNS, ImageWorker, ModelSpec, results_of

__all__ = ["RECORD_COLUMNS", "ImageWorker", "ModelSpec", "Notices", "RayRunner", "results_of"]
