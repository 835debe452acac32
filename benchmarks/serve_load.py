"""``ganedit serve`` under load: images/s and latency from 1, 4 and 16 clients, against the
in-process API on the same model and images.

A CycleGAN ResNet-9 (ngf 64, random weights, exported once) translates 256² photo crops
(PNG). The in-process figure is ``model(array)`` in a loop (what a Python pipeline does; the
server also decodes and encodes PNG). The server runs in its own process (``ganedit serve``,
loopback); each client is a thread with a keep-alive connection posting the PNG bytes. Every
configuration runs a bounded number of requests; latency is per request (p50, p99). Batching
on: ``--batch-size 4 --batch-wait-ms 5``; off: ``--batch-size 1``.

    .venv/bin/python benchmarks/serve_load.py                  # 48 requests per run
    .venv/bin/python benchmarks/serve_load.py --requests 96 --size 256
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata


def _model(folder: Path) -> Path:
    import torch

    from ganedit.archs import ResnetGenerator
    from ganedit.export import checkpoint_to_onnx

    torch.manual_seed(0)
    net = ResnetGenerator(
        in_channels=3, out_channels=3, ngf=64, n_blocks=9, norm="instance", use_dropout=False
    )
    torch.save(net.state_dict(), folder / "r9.pth")
    (folder / "models").mkdir()
    return checkpoint_to_onnx(folder / "r9.pth", folder / "models" / "r9.onnx", name="r9").path


def _images(size: int, count: int) -> list[np.ndarray]:
    photos = [skdata.astronaut(), skdata.coffee(), skdata.chelsea(), skdata.rocket()]
    out = []
    for i in range(count):
        photo = photos[i % len(photos)]
        top, left = (i * 17) % (photo.shape[0] - size), (i * 29) % (photo.shape[1] - size)
        out.append(np.ascontiguousarray(photo[top : top + size, left : left + size, :3]))
    return out


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _percentiles(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def _in_process(model_path: Path, images: list[np.ndarray], requests: int) -> tuple[float, ...]:
    import ganedit

    model = ganedit.load(model_path, device="cpu")
    model(images[0])  # warm-up
    latencies = []
    start = time.perf_counter()
    for i in range(requests):
        t = time.perf_counter()
        model(images[i % len(images)])
        latencies.append(time.perf_counter() - t)
    wall = time.perf_counter() - start
    return (requests / wall, *_percentiles(latencies))


def _serve(models: Path, port: int, batch: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "ganedit.cli", "serve", "--port", str(port)]
    command += ["--models-dir", str(models), "--device", "cpu", "--batch-size", str(batch)]
    command += ["--batch-wait-ms", "5", "--queue", "1024"]
    server = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    for _ in range(600):  # bounded: 60 s
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/v1/health")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def _clients(port: int, uploads: list[bytes], clients: int, requests: int) -> tuple[float, ...]:
    def client(indices: list[int]) -> list[float]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        latencies = []
        for i in indices:
            t = time.perf_counter()
            connection.request(
                "POST",
                "/v1/translate/r9.onnx",
                body=uploads[i % len(uploads)],
                headers={"Content-Type": "image/png"},
            )
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise SystemExit(f"{response.status}: {body[:200]!r}")
            latencies.append(time.perf_counter() - t)
        return latencies

    shares = [list(range(c, requests, clients)) for c in range(clients)]
    client([0])  # warm-up: loads the model in the server
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as executor:
        latencies = [x for part in executor.map(client, shares) for x in part]
    wall = time.perf_counter() - start
    return (requests / wall, *_percentiles(latencies))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=48, help="requests per configuration")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["GANEDIT_HOME"] = str(work / "home")
        model = _model(work)
        images = _images(args.size, 8)
        uploads = [_png(image) for image in images]
        base = _in_process(model, images, args.requests)
        print(f"{args.requests} requests of {args.size}² per configuration; ResNet-9 (ngf 64)\n")
        print("| configuration | images/s | vs in-process | p50 ms | p99 ms |")
        print("|---|---:|---:|---:|---:|")
        print(
            f"| in-process `model(array)` | {base[0]:.2f} | 1.00 | {base[1]:.0f} | {base[2]:.0f} |"
        )
        sys.stdout.flush()
        for batch in (1, 4):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            server = _serve(model.parent, port, batch)
            try:
                for clients in args.clients:
                    rate, p50, p99 = _clients(port, uploads, clients, args.requests)
                    label = f"serve, {clients} client{'s' if clients > 1 else ''}, batch {batch}"
                    print(
                        f"| {label} | {rate:.2f} | {rate / base[0]:.2f} | {p50:.0f} | {p99:.0f} |"
                    )
                    sys.stdout.flush()
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=60)


if __name__ == "__main__":
    main()
