"""``ganedit serve``'s API, in process (Starlette's test client): statuses, and responses
bit-identical to what the folder job writes for the same file."""

from __future__ import annotations

import io
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient

from ganedit import process_folder
from ganedit.loading import load
from ganedit.serve import ServeSettings, create_app


@pytest.fixture
def models_dir(tmp_path: Path, resnet_onnx: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(resnet_onnx, folder / "tiny.onnx")
    return folder


def _client(models_dir: Path, **changes: object) -> TestClient:
    settings = ServeSettings(models_dir=models_dir, device="cpu", **changes)  # type: ignore[arg-type]
    return TestClient(create_app(settings))


def _png(array: np.ndarray, **params: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG", **params)
    return buffer.getvalue()


def _photo(height: int = 30, width: int = 41, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _folder_result(model_path: Path, data: bytes, name: str, tmp_path: Path) -> bytes:
    """What ``ganedit translate`` writes for a file holding ``data``."""
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / name).write_bytes(data)
    report = process_folder(load(model_path, device="cpu"), [src / name], tmp_path / "dst")
    assert report.ok, report.summary()
    return (tmp_path / "dst" / name).read_bytes()


# --- responses equal the folder job's files -----------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["rgb-png", "rgba-png", "grey16-png", "jpeg-with-icc"], ids=lambda k: k
)
def test_a_response_is_the_file_the_folder_job_writes(
    models_dir: Path, tmp_path: Path, kind: str
) -> None:
    photo = _photo()
    if kind == "rgb-png":
        data, name = _png(photo), "a.png"
    elif kind == "rgba-png":
        alpha = np.linspace(0, 255, 41, dtype=np.uint8)[None].repeat(30, 0)
        data, name = _png(np.dstack([photo, alpha])), "a.png"
    elif kind == "grey16-png":
        grey = (photo[:, :, 0].astype(np.uint16) * 257 + 3).astype(np.uint16)
        data, name = _png(grey), "a.png"
    else:
        from PIL import ImageCms

        icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
        buffer = io.BytesIO()
        Image.fromarray(photo).save(buffer, "JPEG", quality=92, icc_profile=icc)
        data, name = buffer.getvalue(), "a.jpg"

    with _client(models_dir) as client:
        response = client.post("/v1/translate/tiny.onnx", content=data)

    assert response.status_code == 200, response.text
    expected = _folder_result(models_dir / "tiny.onnx", data, name, tmp_path)
    assert response.content == expected
    assert response.headers["content-type"] == (
        "image/jpeg" if name.endswith("jpg") else "image/png"
    )


def test_an_inpaint_request_takes_the_image_and_mask_as_a_form(
    models_dir: Path, tmp_path: Path
) -> None:
    photo = _photo(32, 32)
    mask = np.zeros((32, 32), np.uint8)
    mask[8:20, 10:22] = 255
    with _client(models_dir) as client:
        response = client.post(
            "/v1/inpaint/cv2-telea",
            files={"image": ("a.png", _png(photo)), "mask": ("m.png", _png(mask))},
        )
    assert response.status_code == 200, response.text
    result = np.asarray(Image.open(io.BytesIO(response.content)))
    outside = mask == 0
    np.testing.assert_array_equal(result[outside], photo[outside])
    assert np.abs(result[~outside].astype(int) - photo[~outside]).max() > 0


def test_options_are_query_parameters_with_the_cli_names(models_dir: Path) -> None:
    big = _photo(40, 40)
    with _client(models_dir) as client:
        unknown = client.post("/v1/translate/tiny.onnx?tile-size=3", content=_png(big))
        invalid = client.post("/v1/inpaint/cv2-telea?feather=-4", files={"image": _png(big)})
        tiled = client.post("/v1/upscale/cv2-telea", content=_png(big))
    assert unknown.status_code == 422
    assert unknown.json()["error"]["message"].startswith("unknown option 'tile_size'; options:")
    assert invalid.status_code == 422
    assert invalid.json()["error"]["message"].startswith("invalid options:")
    assert tiled.status_code == 422
    assert tiled.json()["error"]["message"] == (
        "cv2-telea is an inpaint model: POST /v1/inpaint/cv2-telea"
    )


# --- every status ---------------------------------------------------------------------------------


def test_status_codes_and_json_errors(models_dir: Path) -> None:
    good = _png(_photo())
    with _client(models_dir, max_bytes=len(good) + 10, max_pixels=2000) as client:
        cases = {
            "bad image": client.post("/v1/translate/tiny.onnx", content=b"not an image"),
            "empty": client.post("/v1/translate/tiny.onnx", content=b""),
            "unknown model": client.post("/v1/translate/nope.onnx", content=good),
            "unknown task": client.post("/v1/colorize/tiny.onnx", content=good),
            "too many bytes": client.post("/v1/translate/tiny.onnx", content=good + b"\0" * 100),
            "too many pixels": client.post("/v1/translate/tiny.onnx", content=_png(_photo(50, 50))),
            "wrong task": client.post("/v1/upscale/tiny.onnx", content=good),
        }
    expected = {
        "bad image": (400, "bad_image"),
        "empty": (400, "bad_image"),
        "unknown model": (404, "unknown_model"),
        "unknown task": (404, "unknown_task"),
        "too many bytes": (413, "too_large"),
        "too many pixels": (413, "too_large"),
        "wrong task": (422, "bad_request"),
    }
    for case, response in cases.items():
        status, code = expected[case]
        assert response.status_code == status, (case, response.text)
        assert response.json()["error"]["code"] == code, case
        assert response.json()["error"]["message"], case


def test_a_token_is_required_when_set(models_dir: Path) -> None:
    with _client(models_dir, token="s3cret") as client:
        missing = client.get("/v1/models")
        wrong = client.get("/v1/models", headers={"Authorization": "Bearer nope"})
        right = client.get("/v1/models", headers={"Authorization": "Bearer s3cret"})
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert missing.json()["error"]["code"] == "unauthorized"


def test_a_full_queue_answers_503_with_retry_after(models_dir: Path) -> None:
    import threading

    from ganedit.serve import pool as pool_module

    gate = threading.Event()
    real = pool_module.ModelWorker._run_group

    def held(self, group):  # type: ignore[no-untyped-def]
        gate.wait(30)
        return real(self, group)

    good = _png(_photo())
    with _client(models_dir, queue=1, batch_size=1) as client:
        pool_module.ModelWorker._run_group = held  # type: ignore[method-assign]
        try:
            with ThreadPoolExecutor(4) as executor:
                futures = [
                    executor.submit(client.post, "/v1/translate/tiny.onnx", content=good)
                    for _ in range(4)
                ]
                import time

                time.sleep(1.0)
                gate.set()
                statuses = sorted(f.result().status_code for f in futures)
                busy = [f.result() for f in futures if f.result().status_code == 503]
        finally:
            pool_module.ModelWorker._run_group = real  # type: ignore[method-assign]
    assert statuses.count(200) >= 1 and 503 in statuses
    assert busy[0].headers["Retry-After"] == "1"
    assert busy[0].json()["error"]["code"] == "busy"


# --- serving well ---------------------------------------------------------------------------------


def test_concurrent_requests_give_the_bytes_of_serial_ones_and_batch(models_dir: Path) -> None:
    uploads = [_png(_photo(seed=i)) for i in range(16)]
    with _client(models_dir, batch_size=4, batch_wait_ms=50) as client:
        serial = [client.post("/v1/translate/tiny.onnx", content=u).content for u in uploads]
        with ThreadPoolExecutor(16) as executor:
            parallel = list(
                executor.map(
                    lambda u: client.post("/v1/translate/tiny.onnx", content=u).content, uploads
                )
            )
        worker = client.app.state.pool.get("tiny.onnx")  # type: ignore[attr-defined]
    assert parallel == serial
    assert max(worker.batches) > 1  # some concurrent requests ran as one batch


def test_models_are_listed_and_the_least_recently_used_is_unloaded(
    models_dir: Path, resnet_onnx: Path
) -> None:
    shutil.copy(resnet_onnx, models_dir / "second.onnx")
    shutil.copy(resnet_onnx, models_dir / "third.onnx")
    good = _png(_photo())
    with _client(models_dir, max_models=2) as client:
        for name in ("tiny.onnx", "second.onnx", "third.onnx"):
            assert client.post(f"/v1/translate/{name}", content=good).status_code == 200
        health = client.get("/v1/health").json()
        listed = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
        card = client.get("/v1/models/tiny.onnx").json()
    assert health["loaded"] == ["second.onnx", "third.onnx"]
    assert listed["tiny.onnx"]["source"] == "dir" and listed["horse2zebra"]["source"] == "zoo"
    assert card["task"] == "translate"


def test_openapi_docs_are_served(models_dir: Path) -> None:
    with _client(models_dir) as client:
        assert client.get("/docs").status_code == 200
        assert "/v1/{task}/{name}" in client.get("/openapi.json").json()["paths"]


# --- the command --------------------------------------------------------------------------------


def test_serve_refuses_to_listen_beyond_loopback_without_a_token() -> None:
    from click.testing import CliRunner

    from ganedit.cli import main

    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "--host 0.0.0.0 accepts connections from other machines: give --token" in result.stderr


@pytest.mark.timeout(120, method="thread")
def test_the_command_serves_on_loopback_and_stops_on_sigterm(
    models_dir: Path, tmp_path: Path
) -> None:
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "ganedit.cli", "serve", "--port", str(port)]
    command += ["--models-dir", str(models_dir), "--device", "cpu"]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # bounded: 30 s
            try:
                with urllib.request.urlopen(f"{base}/v1/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(
                f"the server did not start: {server.stderr.read() if server.stderr else ''}"
            )
        data = _png(_photo())
        request = urllib.request.Request(f"{base}/v1/translate/tiny.onnx", data=data, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        assert body == _folder_result(models_dir / "tiny.onnx", data, "a.png", tmp_path)
        # A request in flight when SIGTERM comes is finished before the server exits.
        big = _png(_photo(1200, 1600))
        slow = urllib.request.Request(f"{base}/v1/translate/tiny.onnx", data=big, method="POST")
        with ThreadPoolExecutor(1) as executor:
            in_flight = executor.submit(lambda: urllib.request.urlopen(slow, timeout=60).read())
            time.sleep(0.3)
            server.send_signal(signal.SIGTERM)
            assert len(in_flight.result()) > 1000
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    # uvicorn re-raises the signal once it has shut down gracefully.
    assert server.returncode in (0, -signal.SIGTERM)
    assert "Traceback" not in (server.stderr.read() if server.stderr else "")


# --- a remote model, called like a local one ------------------------------------------------------


@pytest.fixture
def live(models_dir: Path):  # type: ignore[no-untyped-def]
    """``ganedit serve`` on a free loopback port, in a thread of this process."""
    from http_helpers import serve_app

    with serve_app(create_app(ServeSettings(models_dir=models_dir, device="cpu"))) as url:
        yield url


def test_a_remote_model_gives_what_the_local_one_gives(live: str, models_dir: Path) -> None:
    import ganedit

    local = ganedit.load(models_dir / "tiny.onnx", device="cpu")
    remote = ganedit.load(f"{live}/v1/models/tiny.onnx")
    assert isinstance(remote, ganedit.RemoteModel)
    assert remote.card == local.card
    photo = _photo()
    alpha = np.linspace(0, 255, 41, dtype=np.uint8)[None].repeat(30, 0)
    grey16 = (photo[:, :, 0].astype(np.uint16) * 257).astype(np.uint16)
    for image in (photo, np.dstack([photo, alpha]), grey16, Image.fromarray(photo)):
        got, expected = remote(image), local(image)
        assert type(got) is type(expected)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


def test_a_remote_inpainter_takes_a_mask_and_options(live: str) -> None:
    import ganedit

    local = ganedit.load("cv2-telea").with_options(feather=2)
    remote = ganedit.connect(live).load("cv2-telea").with_options(feather=2)
    photo = _photo(32, 32)
    mask = np.zeros((32, 32), bool)
    mask[8:20, 10:22] = True
    np.testing.assert_array_equal(remote(photo, mask), local(photo, mask))
    with pytest.raises(ganedit.GaneditError, match="an inpainting model: call it with a mask"):
        remote(photo)


def test_a_remote_error_names_the_server_and_the_reason(live: str) -> None:
    import ganedit

    with pytest.raises(ganedit.GaneditError, match="404 no model named 'nope' is offered here"):
        ganedit.load(f"{live}/v1/models/nope")
    with pytest.raises(
        ganedit.GaneditError, match=r"cannot reach ganedit serve at http://127\.0\.0\.1:9"
    ):
        ganedit.connect("http://127.0.0.1:9").load("tiny.onnx")


# --- long jobs: submit, progress, result, cancel ------------------------------------------------


@pytest.fixture
def with_upscaler(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from upscale_helpers import exported_models

    shutil.copy(exported_models(tmp_path_factory)["srvgg_x4"], models_dir / "up.onnx")
    return models_dir


def test_a_job_reports_progress_and_gives_the_result_of_the_direct_call(
    with_upscaler: Path,
) -> None:
    import time

    data = _png(_photo(64, 64))
    path = "upscale/up.onnx?tile=32&tile_overlap=8&tile_batch=1"
    with _client(with_upscaler) as client:
        direct = client.post(f"/v1/{path}", content=data)
        submitted = client.post(f"/v1/jobs/{path}", content=data)
        assert submitted.status_code == 202
        job = submitted.json()
        assert submitted.headers["Location"] == f"/v1/jobs/{job['id']}"
        for _ in range(300):  # bounded: 30 s
            state = client.get(f"/v1/jobs/{job['id']}").json()
            if state["status"] not in ("queued", "running"):
                break
            time.sleep(0.1)
        result = client.get(f"/v1/jobs/{job['id']}/result")
        missing = client.get("/v1/jobs/nope")
    assert state == {
        "id": job["id"],
        "status": "done",
        "progress": 1.0,
        "result": f"/v1/jobs/{job['id']}/result",
    }
    assert result.status_code == 200 and result.content == direct.content
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_job"


def test_the_progress_of_a_tiled_upscale_counts_its_tile_batches(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from upscale_helpers import exported_models

    import ganedit
    from ganedit.images import ImageIn

    up = ganedit.load(exported_models(tmp_path_factory)["srvgg_x4"], device="cpu").with_options(
        tile=32, tile_overlap=8, tile_batch=1
    )
    item = up.begin(ImageIn(_photo(64, 64), None, np.dtype(np.uint8)))
    seen: list[float] = []
    item.progress = seen.append
    up.run_items([item])
    assert len(seen) > 2 and seen == sorted(seen) and seen[-1] == 1.0


def test_a_cancelled_job_never_runs(with_upscaler: Path) -> None:
    import threading

    from ganedit.serve import pool as pool_module

    gate = threading.Event()
    real = pool_module.ModelWorker._run_group

    def held(self, group):  # type: ignore[no-untyped-def]
        gate.wait(30)
        return real(self, group)

    data = _png(_photo(64, 64))
    with _client(with_upscaler, batch_size=1) as client:
        client.get("/v1/models/up.onnx")  # loaded before the gate
        pool_module.ModelWorker._run_group = held  # type: ignore[method-assign]
        try:
            first = client.post("/v1/jobs/upscale/up.onnx", content=data).json()
            second = client.post("/v1/jobs/upscale/up.onnx", content=data).json()
            cancelled = client.delete(f"/v1/jobs/{second['id']}").json()
            gate.set()
        finally:
            pool_module.ModelWorker._run_group = real  # type: ignore[method-assign]
        import time

        for _ in range(300):
            if client.get(f"/v1/jobs/{first['id']}").json()["status"] == "done":
                break
            time.sleep(0.1)
        worker = client.app.state.pool.get("up.onnx")  # type: ignore[attr-defined]
        result = client.get(f"/v1/jobs/{second['id']}/result")
    assert cancelled["status"] == "cancelled"
    assert worker.batches == [1]  # only the first job ran
    assert result.status_code == 409 and result.json()["error"]["code"] == "not_done"


def test_the_folder_commands_run_a_served_model(
    live: str, models_dir: Path, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from ganedit.cli import main

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(5):
        Image.fromarray(_photo(seed=i)).save(photos / f"p{i}.png")
    (photos / "broken.png").write_bytes(b"not an image")
    url = f"{live}/v1/models/tiny.onnx"

    served = CliRunner().invoke(main, ["translate", url, str(photos), "-o", str(tmp_path / "a")])
    local = CliRunner().invoke(
        main, ["translate", str(models_dir / "tiny.onnx"), str(photos), "-o", str(tmp_path / "b")]
    )

    assert (served.exit_code, local.exit_code) == (1, 1)  # the broken file, named, in both
    assert "broken.png: not an image file (cannot identify image format) (server: 400)" in (
        served.stderr
    )
    names = sorted(p.name for p in (tmp_path / "b").iterdir())
    assert (
        sorted(p.name for p in (tmp_path / "a").iterdir())
        == names
        == [f"p{i}.png" for i in range(5)]
    )
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.parametrize("kind", ["rgba16-png", "jpeg-with-icc"])
def test_an_upscale_response_is_the_file_the_folder_job_writes(
    with_upscaler: Path, tmp_path: Path, kind: str
) -> None:
    photo = _photo(20, 27)
    if kind == "rgba16-png":
        import cv2

        alpha = np.linspace(0, 65535, 27, dtype=np.uint16)[None].repeat(20, 0)
        rgba16 = np.dstack([photo.astype(np.uint16) * 257, alpha])
        ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgba16, cv2.COLOR_RGBA2BGRA))
        assert ok
        data, name = encoded.tobytes(), "a.png"
    else:
        from PIL import ImageCms

        icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
        buffer = io.BytesIO()
        Image.fromarray(photo).save(buffer, "JPEG", quality=90, icc_profile=icc)
        data, name = buffer.getvalue(), "a.jpg"
    with _client(with_upscaler) as client:
        response = client.post("/v1/upscale/up.onnx?tile=16&tile_overlap=4", content=data)
    assert response.status_code == 200, response.text

    src = tmp_path / "src"
    src.mkdir()
    (src / name).write_bytes(data)
    model = load(with_upscaler / "up.onnx", device="cpu").with_options(tile=16, tile_overlap=4)
    assert process_folder(model, [src / name], tmp_path / "dst").ok
    assert response.content == (tmp_path / "dst" / name).read_bytes()


def test_an_inpaint_response_is_the_file_the_folder_job_writes(
    models_dir: Path, tmp_path: Path
) -> None:
    photo = _photo(32, 40)
    mask = np.zeros((32, 40), np.uint8)
    mask[10:20, 12:30] = 255
    image_png, mask_png = _png(photo), _png(mask)
    with _client(models_dir) as client:
        response = client.post(
            "/v1/inpaint/cv2-telea", files={"image": image_png, "mask": mask_png}
        )
    assert response.status_code == 200, response.text

    src, masks = tmp_path / "src", tmp_path / "masks"
    src.mkdir()
    masks.mkdir()
    (src / "a.png").write_bytes(image_png)
    (masks / "a.png").write_bytes(mask_png)
    report = process_folder(load("cv2-telea"), [src], tmp_path / "dst", masks=masks)
    assert report.ok, report.summary()
    assert response.content == (tmp_path / "dst" / "a.png").read_bytes()


@pytest.mark.timeout(120, method="thread")
def test_a_request_whose_client_disconnects_is_never_run(live: str) -> None:
    import socket
    import threading
    import time

    import ganedit.serve.pool as pool_module

    gate = threading.Event()
    real = pool_module.ModelWorker._run_group
    ran: list[int] = []

    def held(self, group):  # type: ignore[no-untyped-def]
        gate.wait(30)
        ran.append(sum(not request.future.cancelled() for request in group))
        return real(self, group)

    import urllib.request

    urllib.request.urlopen(f"{live}/v1/models/tiny.onnx", timeout=30).read()  # loaded first
    host, port = live.removeprefix("http://").split(":")
    body = _png(_photo())
    pool_module.ModelWorker._run_group = held  # type: ignore[method-assign]
    try:
        # The first request occupies the runner; the second waits in the queue, and its
        # client goes away.
        first = threading.Thread(
            target=lambda: urllib.request.urlopen(
                urllib.request.Request(f"{live}/v1/translate/tiny.onnx", data=body), timeout=60
            ).read()
        )
        first.start()
        time.sleep(0.5)
        with socket.create_connection((host, int(port))) as client:
            head = (
                f"POST /v1/translate/tiny.onnx HTTP/1.1\r\nHost: {host}\r\n"
                f"Content-Type: image/png\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            client.sendall(head.encode() + body)
            time.sleep(0.5)  # queued behind the first
        time.sleep(1.0)  # the server notices the disconnect (it polls every 0.25 s)
        gate.set()
        first.join(timeout=60)
        time.sleep(0.5)
    finally:
        gate.set()
        pool_module.ModelWorker._run_group = real  # type: ignore[method-assign]
    assert ran in ([1], [1, 0])  # only the first request reached the network
