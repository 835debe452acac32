"""Folder jobs on Ray (``--ray``, ``ganedit.ray``): a local Ray instance with 2 CPUs, the mixed
folder of the local pipeline's tests, byte-identical outputs and identical reports; an actor
killed mid-job; inpaint masks; the ImageWorker class in a pipeline of one's own."""

from __future__ import annotations

import copy
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from folder_helpers import files, hashes, make_mixed_folder, noise
from PIL import Image

import ganedit
from ganedit import FolderSettings, GaneditError, MaskSource, process_folder
from ganedit._files import TEMP_GLOB
from ganedit.cli import main

ray = pytest.importorskip("ray", reason="needs the ray extra: pip install 'ganedit[ray]'")

from ganedit.loading import LoadRecipe  # noqa: E402
from ganedit.ray import ImageWorker, ModelSpec, Notices, RayRunner  # noqa: E402  (after the importorskip)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """One local Ray instance for the module (starting one takes seconds): 2 CPUs, as CI has."""
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=100 * 2**20,
        configure_logging=False,
    )
    yield ray
    ray.shutdown()


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def _comparable(report: dict[str, Any], out: Path) -> dict[str, Any]:
    """A --json report without its timings, outputs relative to ``out``."""
    kept = {k: v for k, v in report.items() if k not in ("elapsed_s", "images_per_s")}
    kept["outputs"] = [str(Path(p).relative_to(out.resolve())) for p in report["outputs"]]
    return kept


def _summary_lines(stderr: str) -> list[str]:
    """The summary without its timing (the first line's 'in 1.2s (3.4 images/s)')."""
    lines = stderr.strip().splitlines()
    return [lines[0].split(" in ")[0], *lines[1:]]


def test_ray_job_gives_the_local_job_s_bytes_and_report(
    cluster: Any, resnet_onnx: Path, tmp_path: Path
) -> None:
    mixed = make_mixed_folder(tmp_path / "in")
    runs = {}
    for name, extra in (("local", []), ("ray", ["--ray-actors", "2", "--ray"])):
        out = tmp_path / name
        code, stdout, stderr = _cli(
            "translate", str(resnet_onnx), str(mixed.root), "-o", str(out), "-r", "--json", *extra
        )
        runs[name] = (code, _comparable(json.loads(stdout), out), _summary_lines(stderr))
    assert runs["ray"] == runs["local"]
    code, report, _ = runs["ray"]
    assert code == 1  # the two broken files
    assert {Path(f["file"]).name for f in report["failures"]} == {"truncated.jpg", "notes.jpg"}
    assert report["done"] == len(mixed.good_all)
    assert hashes(tmp_path / "ray") == hashes(tmp_path / "local")
    assert files(tmp_path / "ray") == set(mixed.good_all)  # no temporaries, nothing else


def test_ray_upscale_with_tiles_and_batches_gives_the_local_bytes(
    cluster: Any, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Tiling, tile batches and network batches of equal shapes happen inside the actors as
    they do locally: the mixed folder upscaled ×4 in 24-pixel tiles, batch 2."""
    from upscale_helpers import exported_models

    model = exported_models(tmp_path_factory)["srvgg_x4"]
    mixed = make_mixed_folder(tmp_path / "in")
    runs = {}
    for name, extra in (("local", []), ("ray", ["--ray-actors", "2", "--ray"])):
        out = tmp_path / name
        code, stdout, stderr = _cli(
            "upscale", str(model), str(mixed.root), "-o", str(out), "-r", "--json",
            "--tile", "24", "--tile-overlap", "6", "--tile-batch", "3", "--batch-size", "2",
            *extra,
        )  # fmt: skip
        runs[name] = (code, _comparable(json.loads(stdout), out), _summary_lines(stderr))
    assert runs["ray"] == runs["local"]
    assert runs["ray"][1]["done"] == len(mixed.good_all)
    assert hashes(tmp_path / "ray") == hashes(tmp_path / "local")


def test_ray_rerun_skips_finished_outputs(cluster: Any, resnet_onnx: Path, tmp_path: Path) -> None:
    mixed = make_mixed_folder(tmp_path / "in")
    out = tmp_path / "out"
    args = ("translate", str(resnet_onnx), str(mixed.root), "-o", str(out), "--json", "--ray")
    first = json.loads(_cli(*args)[1])
    (out / "odd.png").unlink()
    code, stdout, _ = _cli(*args)
    second = json.loads(stdout)
    assert code == 1
    assert (first["done"], second["done"], second["skipped"]) == (7, 1, 6)
    assert second["outputs"] == [str((out / "odd.png").resolve())]


def _map_worker_pids(busy: bool = False) -> list[int]:
    """The processes of Ray Data's actors running ImageWorker (named by their proctitle);
    ``busy``: those in the middle of a call (Ray adds the method's name, ``.submit``)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        ours = cmdline.startswith(b"ray::") and b"ImageWorker" in cmdline
        if ours and (not busy or b").submit" in cmdline):
            pids.append(int(entry))
    return pids


def test_killed_actor_is_restarted_and_every_output_is_complete(
    cluster: Any, resnet_onnx: Path, resnet_translator: Any, tmp_path: Path
) -> None:
    """SIGKILL one of two actors once the job has written a few files: Ray starts another,
    the killed actor's files are done again, and the command's report and --json (which
    Ray's own notice of the death must not spoil: it prints those on stdout) are whole."""
    root = tmp_path / "in"
    root.mkdir()
    count = 40
    for i in range(count):
        Image.fromarray(noise(96, 80 + i % 5, seed=i)).save(root / f"img{i:02d}.png")
    process_folder(resnet_translator, [root], tmp_path / "local")

    out = tmp_path / "ray"
    killed: dict[str, Any] = {"later": set()}
    finished = threading.Event()

    def kill_one_actor() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not finished.is_set():
            pids = _map_worker_pids()
            if "pid" in killed:
                killed["later"].update(set(pids) - killed["before"])
            elif out.exists() and len(list(out.glob("*.png"))) >= 2:
                busy = _map_worker_pids(busy=True)  # one with a call in flight: it must be redone
                if busy:
                    killed["written"], killed["pid"] = len(list(out.glob("*.png"))), busy[0]
                    killed["before"] = set(pids) | {busy[0]}
                    os.kill(busy[0], signal.SIGKILL)
            time.sleep(0.01)

    killer = threading.Thread(target=kill_one_actor)
    killer.start()
    try:
        code, stdout, stderr = _cli(
            "translate", str(resnet_onnx), str(root), "-o", str(out), "--json",
            "--ray-actors", "2", "--ray",
        )  # fmt: skip
    finally:
        finished.set()
        killer.join()
    assert "pid" in killed, "no actor was found to kill"
    assert killed["written"] < count  # killed while files were still to do
    assert killed["later"], "Ray started no actor in place of the killed one"
    report = json.loads(stdout)
    assert (report["done"], report["failed"], code) == (count, 0, 0)
    assert "Traceback" not in stderr
    assert all(line.startswith("ray: (") for line in stderr.splitlines()[:-1]), stderr
    assert hashes(out) == hashes(tmp_path / "local")  # every output complete and right
    assert not list(out.glob(TEMP_GLOB))  # the dead actor's temporaries were removed


def test_ray_inpaint_with_a_masks_folder_matches_local(cluster: Any, tmp_path: Path) -> None:
    root, masks = tmp_path / "in", tmp_path / "masks"
    (root / "sub").mkdir(parents=True)
    (masks / "sub").mkdir(parents=True)
    for i, name in enumerate(["a.png", "b.jpg", "sub/c.png", "nomask.png"]):
        Image.fromarray(noise(40 + i, 48, seed=i)).save(root / name)
        if name != "nomask.png":
            hole = np.zeros((40 + i, 48), np.uint8)
            hole[10:20, 5 + i : 25] = 255
            Image.fromarray(hole).save(masks / Path(name).with_suffix(".png"))
    runs = {}
    for name, extra in (("local", []), ("ray", ["--ray"])):
        out = tmp_path / name
        code, stdout, stderr = _cli(
            "inpaint", "cv2-telea", str(root), "--mask", str(masks), "-r", "-o", str(out),
            "--json", *extra,
        )  # fmt: skip
        runs[name] = (code, _comparable(json.loads(stdout), out), _summary_lines(stderr))
    assert runs["ray"] == runs["local"]
    code, report, _ = runs["ray"]
    assert (code, report["done"]) == (1, 3)
    (failure,) = report["failures"]
    assert Path(failure["file"]).name == "nomask.png"
    assert "no mask" in failure["reason"]
    assert hashes(tmp_path / "ray") == hashes(tmp_path / "local")


def test_image_worker_in_a_pipeline_of_one_s_own(
    cluster: Any, resnet_onnx: Path, resnet_translator: Any, tmp_path: Path
) -> None:
    """The README's example: paths read from a listing, relative to a root; outputs named as
    a local job names them; a bad file is a record, not an error; a rerun skips."""
    mixed = make_mixed_folder(tmp_path / "in")
    settings = FolderSettings(ext=".png", recursive=True)
    process_folder(resnet_translator, [mixed.root], tmp_path / "local", settings=settings)
    listing = tmp_path / "listing.txt"
    names = [*mixed.good_all, *mixed.bad, "missing.png"]
    listing.write_text("".join(f"{name}\n" for name in names))

    def run() -> dict[str, dict[str, Any]]:
        paths = ray.data.read_text(str(listing)).rename_columns({"text": "source"})
        records = paths.map_batches(
            ImageWorker,
            fn_constructor_kwargs={
                "model": resnet_onnx,
                "root": mixed.root,
                "output_dir": tmp_path / "out",
                "settings": settings,
            },
            batch_size=4,
            compute=ray.data.ActorPoolStrategy(size=1),
            num_cpus=1,
        )
        rows = records.take_all()
        return {str(Path(r["source"]).relative_to(mixed.root)): r for r in rows}

    rows = run()
    assert set(rows) == set(names)
    assert {n for n, r in rows.items() if r["status"] == "done"} == set(mixed.good_all)
    assert rows["notes.jpg"]["status"] == "failed"
    assert "not an image file" in rows["notes.jpg"]["reason"]
    assert rows["missing.png"]["status"] == "failed"
    assert rows["missing.png"]["output"] == ""
    assert all(r["seconds"] > 0 for r in rows.values() if r["status"] == "done")
    assert hashes(tmp_path / "out") == hashes(tmp_path / "local")
    again = run()
    assert {n for n, r in again.items() if r["status"] == "skipped"} == set(mixed.good_all)


def test_actors_that_cannot_load_the_model_fail_the_job_with_the_reason(
    cluster: Any, resnet_onnx: Path, tmp_path: Path
) -> None:
    """The model the driver loaded is gone when the actors start (a path only the driver can
    read): the job stops with the actors' own reason, not a hang or a remote traceback."""
    model = tmp_path / "model.onnx"
    model.write_bytes(resnet_onnx.read_bytes())
    Image.fromarray(noise(20, 20)).save(tmp_path / "a.png")
    loaded = ganedit.load(model, device="cpu")
    model.unlink()
    with pytest.raises(
        GaneditError, match=r"^the Ray actors could not start: model file .* does not exist$"
    ):
        process_folder(loaded, [tmp_path / "a.png"], tmp_path / "out", runner=RayRunner(actors=1))
    assert not (tmp_path / "out" / "a.png").exists()


def test_ray_notices_become_one_line_each() -> None:
    """What Ray prints on the driver's stdout (coloured, with remote tracebacks) as lines."""
    lines: list[str] = []
    notices = Notices(lines.append, limit=80)
    notices.write(
        "\x1b[33m(raylet)\x1b[0m Task MapWorker.submit failed. There are infinite retries "
        "remaining, so the task will be retried. Error: Traceback (most recent call last):\n\n"
        '  File "python/ray/_raylet.pyx", line 2198, in execute_task\n'
        "ganedit.errors.GaneditError: model file /m.onnx does not exist\n"
    )
    notices.write("\x1b[33m(raylet)\x1b[0m A worker died")
    said = "(raylet) Task MapWorker.submit failed. There are infinite retries remaining, so the"
    assert lines == [said[:79] + "…"]  # no colour, no traceback, at most 80 characters
    notices.write(" or was killed.\n")
    assert lines[1] == "(raylet) A worker died or was killed."


def test_models_the_actors_cannot_load_are_named(resnet_translator: Any) -> None:
    by_hand = copy.copy(resnet_translator)
    by_hand.recipe = None  # not made by ganedit.load: no recipe for the actors
    with pytest.raises(GaneditError, match=r"was not made by ganedit\.load, so Ray actors"):
        ModelSpec.of(by_hand)
    with pytest.raises(GaneditError, match="a object cannot run on Ray actors"):
        ModelSpec.of(object())  # type: ignore[arg-type]


def test_the_recipe_loads_the_same_model_with_its_options(resnet_onnx: Path) -> None:
    model = ganedit.load(resnet_onnx, device="cpu").with_options(bucket=16)
    spec = ModelSpec.of(model)
    assert spec.recipe.name == str(resnet_onnx.resolve())
    twin = spec.load()
    assert (twin.card, twin.options) == (model.card, model.options)


def test_image_worker_refuses_relative_paths_without_a_root(resnet_onnx: Path) -> None:
    worker = ImageWorker(resnet_onnx, output_dir="/nonexistent-out")
    records = worker({"source": np.array(["a/b.png"], dtype=object)})
    assert list(records["status"]) == ["failed"]
    assert "a relative path" in records["reason"][0]


@pytest.mark.parametrize("batch_format", ["numpy", "pandas", "pyarrow"])
def test_image_worker_reads_every_batch_format(
    resnet_onnx: Path, resnet_translator: Any, tmp_path: Path, batch_format: str
) -> None:
    """map_batches hands batches as numpy dicts, pandas or pyarrow, as the caller asks."""
    import pandas as pd
    import pyarrow as pa

    image = tmp_path / "in" / "a.png"
    image.parent.mkdir()
    Image.fromarray(noise(20, 24)).save(image)
    process_folder(resnet_translator, [image], tmp_path / "local")
    columns = {"source": [str(image)], "output": [str(tmp_path / "out" / "a.png")]}
    batch = {
        "numpy": {k: np.array(v, dtype=object) for k, v in columns.items()},
        "pandas": pd.DataFrame(columns),
        "pyarrow": pa.table(columns),
    }[batch_format]
    records = ImageWorker(resnet_onnx)(batch)
    assert (list(records["status"]), list(records["output"])) == (["done"], columns["output"])
    assert hashes(tmp_path / "out") == hashes(tmp_path / "local")


def test_image_worker_names_the_column_it_needs(resnet_onnx: Path) -> None:
    worker = ImageWorker(resnet_onnx, output_dir="/nonexistent-out")
    with pytest.raises(Exception, match="needs a 'source' column of image paths"):
        worker({"text": np.array(["/a.png"], dtype=object)})


def test_image_worker_never_writes_over_a_mask(tmp_path: Path) -> None:
    image, mask = tmp_path / "a.png", tmp_path / "a_mask.png"
    Image.fromarray(noise(20, 20)).save(image)
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(mask)
    worker = ImageWorker("cv2-telea", masks=MaskSource(mask))
    before = mask.read_bytes()
    records = worker(
        {"source": np.array([str(image)], dtype=object), "output": np.array([str(mask)])}
    )
    assert list(records["status"]) == ["failed"]
    assert "output would overwrite the input" in records["reason"][0]
    assert mask.read_bytes() == before


# -- how many actors, with what: from the cluster's resources -----------------------------------


class _Cluster:
    """What RayRunner asks of Ray to size the actors: the nodes and their resources."""

    def __init__(self, *nodes: dict[str, float]):
        self._nodes = nodes

    def nodes(self) -> list[dict[str, Any]]:
        return [{"Alive": True, "Resources": dict(n)} for n in self._nodes]

    def cluster_resources(self) -> dict[str, float]:
        return {k: sum(n.get(k, 0) for n in self._nodes) for k in ("CPU", "GPU")}


def _plan(runner: RayRunner, cluster: _Cluster, device: str = "auto", threads: Any = None) -> Any:
    spec = ModelSpec(LoadRecipe("m.onnx", device=device, runtime=ganedit.Runtime(threads=threads)))
    plan = runner._resources(cluster, spec)
    return plan.actors, plan.cpus, plan.gpus, plan.spec.recipe.runtime.threads


def test_gpu_clusters_get_one_actor_per_gpu() -> None:
    gpus = _Cluster({"CPU": 32, "GPU": 4}, {"CPU": 32, "GPU": 4})
    assert _plan(RayRunner(), gpus) == (8, 1.0, 1.0, None)
    assert _plan(RayRunner(gpus_per_actor=0.5), gpus)[:3] == (16, 1.0, 0.5)
    assert _plan(RayRunner(), gpus, device="cpu") == (2, 32.0, 0.0, 32)  # GPUs left alone


def test_cpu_clusters_get_one_actor_per_node_with_its_cores_as_threads() -> None:
    cpus = _Cluster({"CPU": 16}, {"CPU": 16})
    assert _plan(RayRunner(), cpus) == (2, 16.0, 0.0, 16)
    assert _plan(RayRunner(actors=8), cpus) == (8, 4.0, 0.0, 4)
    assert _plan(RayRunner(actors=8), cpus, threads=2) == (8, 4.0, 0.0, 2)  # as asked
    assert _plan(RayRunner(actors=1), cpus) == (1, 16.0, 0.0, 16)  # not more than a node


def test_cuda_without_gpus_and_actors_bigger_than_nodes_are_refused() -> None:
    cpus = _Cluster({"CPU": 4})
    with pytest.raises(GaneditError, match="device is cuda, but the Ray cluster has no GPUs"):
        _plan(RayRunner(), cpus, device="cuda")
    too_big = r"--ray-gpus-per-actor 1: no node .* has that many GPUs"
    with pytest.raises(GaneditError, match=too_big):
        _plan(RayRunner(gpus_per_actor=1), cpus)


# -- usage errors: before anything runs -------------------------------------------------------


def test_ray_options_need_ray(resnet_onnx: Path, tmp_path: Path) -> None:
    code, _, err = _cli(
        "translate", str(resnet_onnx), str(tmp_path), "-o", str(tmp_path / "o"),
        "--ray-actors", "2",
    )  # fmt: skip
    assert code == 2
    assert "--ray-actors needs --ray" in err


def test_actors_bigger_than_any_node_are_refused(
    cluster: Any, resnet_onnx: Path, tmp_path: Path
) -> None:
    Image.fromarray(noise(20, 20)).save(tmp_path / "a.png")
    code, _, err = _cli(
        "translate", str(resnet_onnx), str(tmp_path / "a.png"), "-o", str(tmp_path / "o"),
        "--ray-cpus-per-actor", "64", "--ray",
    )  # fmt: skip
    assert code == 2
    assert "--ray-cpus-per-actor 64: no node of the Ray cluster has that many CPUs" in err
    assert "Traceback" not in err


def test_missing_ray_is_named_with_the_extra(
    resnet_onnx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    Image.fromarray(noise(20, 20)).save(tmp_path / "a.png")
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    code, _, err = _cli(
        "translate", str(resnet_onnx), str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--ray"
    )
    assert code == 2
    assert "pip install 'ganedit[ray]'" in err
    assert not (tmp_path / "o" / "a.png").exists()
