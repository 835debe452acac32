"""The real ``ganedit … --ray`` command in a process of its own, each starting or joining a Ray
cluster of its own (slow: Ray starts in each; apart from test_ray.py, whose module-wide
instance must not be stopped by ``ray stop``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from folder_helpers import noise
from PIL import Image

pytest.importorskip("ray", reason="needs the ray extra: pip install 'ganedit[ray]'")


def _inpaint_folder(root: Path, count: int) -> Path:
    root.mkdir()
    for i in range(count):
        Image.fromarray(noise(200, 300, seed=i)).save(root / f"p{i:03d}.png")
    hole = np.zeros((200, 300), np.uint8)
    hole[20:150, 20:200] = 255
    Image.fromarray(hole).save(root.parent / "mask.png")
    return root.parent / "mask.png"


def _ganedit(*args: str, **popen: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("ganedit")), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Background shells ignore SIGINT; the command must see it as a terminal's Ctrl-C.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **popen,
    )


@pytest.mark.slow
def test_ctrl_c_stops_a_ray_job_with_a_true_report_and_a_rerun_finishes(tmp_path: Path) -> None:
    mask = _inpaint_folder(tmp_path / "in", 120)
    out = tmp_path / "out"
    args = ("inpaint", "cv2-ns", str(tmp_path / "in"), "--mask", str(mask), "-o", str(out))
    process = _ganedit(*args, "--json", "--ray", start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("*.png")) if out.exists() else []) < 3:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the whole group, Ray's too
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    report = json.loads(stdout)
    assert report["interrupted"] is True
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(Path(p).name for p in report["outputs"])  # no temporaries
    assert report["done"] + report["not_done"] == 120
    assert 0 < report["done"] < 120
    assert "Traceback" not in stderr
    assert stderr.splitlines()[-1].startswith(f"interrupted: {report['not_done']} not done")

    rerun = _ganedit(*args, "--json", "--ray")
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    assert (json.loads(stdout)["done"], json.loads(stdout)["skipped"]) == (
        report["not_done"],
        report["done"],
    )
    # Nothing but the summary on stderr: Ray's own start-up and per-actor logs are kept out.
    assert len(stderr.strip().splitlines()) == 1, stderr


@pytest.mark.slow
def test_ray_address_joins_a_running_cluster(tmp_path: Path) -> None:
    """``ray start --head`` then ``--ray=auto`` (the address of the cluster ``ray start``
    started on this machine; an IP and port work alike)."""
    ray_cli = str(Path(sys.executable).with_name("ray"))
    env = {**os.environ, "RAY_BACKEND_LOG_LEVEL": "fatal"}
    subprocess.run(
        [ray_cli, "start", "--head", "--port=0", "--num-cpus=2", "--include-dashboard=false",
         "--disable-usage-stats"],
        check=True, capture_output=True, env=env, timeout=120,
    )  # fmt: skip
    try:
        mask = _inpaint_folder(tmp_path / "in", 6)
        process = _ganedit(
            "inpaint", "cv2-telea", str(tmp_path / "in"), "--mask", str(mask),
            "-o", str(tmp_path / "out"), "--ray=auto", "--ray-actors", "2",
        )  # fmt: skip
        _, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, stderr
        assert stderr.startswith("6 done, 0 skipped")
        assert len(list((tmp_path / "out").glob("*.png"))) == 6
    finally:
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True, timeout=120)


@pytest.mark.slow
def test_sigterm_stops_a_ray_job_like_ctrl_c(tmp_path: Path) -> None:
    """Ray's core installs its own SIGTERM handler (a stack dump, exit 15); ganedit keeps its
    own: the files in flight, the report, exit 130."""
    mask = _inpaint_folder(tmp_path / "in", 60)
    out = tmp_path / "out"
    process = _ganedit(
        "inpaint", "cv2-ns", str(tmp_path / "in"), "--mask", str(mask), "-o", str(out),
        "--json", "--ray",
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("*.png")) if out.exists() else []) < 3:
        time.sleep(0.02)
    process.terminate()
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    report = json.loads(stdout)
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(p).name for p in report["outputs"])
    assert "SIGTERM received" not in stderr
    assert stderr.splitlines()[-1].startswith(f"interrupted: {report['not_done']} not done")
