"""ganedit.zoo: the registry, the built-in entries, downloads and the cache. Fully offline.

HTTP is served by a loopback server on 127.0.0.1; nothing here reaches the network.
"""

from __future__ import annotations

import hashlib
import http.server
import importlib
import json
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ganedit.errors import DownloadError, UnknownModelError
from ganedit.zoo import (
    ChecksumMismatchError,
    ModelCache,
    ModelRegistry,
    ZooEntry,
    add_plugin_entries,
    default_registry,
    download,
    ganedit_home,
)
from ganedit.zoo import cache as cache_module
from ganedit.zoo import registry as registry_module
from ganedit.zoo.registry import BUILTIN_SCHEME
from ganedit.zoo.translate_models import SHARED_NAMES, translate_entries

# The function ganedit.zoo.download shadows its module of the same name.
download_module = importlib.import_module("ganedit.zoo.download")

PAYLOAD = bytes(range(256)) * 400  # 100 KiB: several reads, still instant.
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
OFFICIAL_HOST = "efrosgans.eecs.berkeley.edu"


# --- a loopback HTTP server -------------------------------------------------------------------


@dataclass
class ServerState:
    """What the test server serves and what it has seen."""

    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    # path -> byte counts to stop after, one per request (then the connection closes).
    cut_after: dict[str, list[int]] = field(default_factory=dict)
    honour_range: bool = True
    # How many of the next requests get their connection closed before any reply.
    hang_ups: int = 0
    # Send the next reply chunked and hang up after this many bytes (0: off).
    chunked_cut: int = 0
    base: str = ""

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        state = self.server.state
        state.requests.append((self.path, self.headers.get("Range")))
        if state.hang_ups:
            state.hang_ups -= 1
            self.close_connection = True
            return
        data = state.files.get(self.path)
        if data is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        range_header = self.headers.get("Range")
        if range_header and state.honour_range:
            start = int(range_header.removeprefix("bytes=").rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        if state.chunked_cut:
            cut, state.chunked_cut = state.chunked_cut, 0
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for offset in range(0, cut, 1000):
                piece = body[offset : min(offset + 1000, cut)]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cuts = state.cut_after.get(self.path)
        if cuts:
            self.wfile.write(body[: cuts.pop(0)])
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    state: ServerState


@pytest.fixture
def server() -> Iterator[ServerState]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.state = ServerState(base=f"http://127.0.0.1:{httpd.server_address[1]}")
    httpd.state.files["/tiny.pth"] = PAYLOAD
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield httpd.state
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _entry(url: str, **changes: object) -> ZooEntry:
    fields: dict[str, object] = {
        "name": "tiny",
        "task": "translate",
        "family": "testfam",
        "url": url,
    }
    fields.update(changes)
    return ZooEntry(**fields)  # type: ignore[arg-type]


# --- ZooEntry ---------------------------------------------------------------------------------


def test_entry_derives_filename_and_qualified_name() -> None:
    entry = _entry("http://example.org/models/a%20b.pth?x=1")
    assert entry.filename == "a b.pth"
    assert entry.qualified_name == "testfam/tiny"
    assert entry.upstream_name == "tiny"


def test_entry_normalises_sha256_to_lower_case() -> None:
    assert _entry("http://x/y.pth", sha256=PAYLOAD_SHA.upper()).sha256 == PAYLOAD_SHA


@pytest.mark.parametrize(
    "changes",
    [
        {"task": "colorize"},
        {"name": "has space"},
        {"name": "a/b"},
        {"family": ""},
        {"sha256": "abc"},
        {"aliases": ("ok", "not ok")},
    ],
)
def test_entry_rejects_malformed_fields(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="invalid ZooEntry"):
        _entry("http://example.org/tiny.pth", **changes)


def test_entry_rejects_url_without_file_name() -> None:
    with pytest.raises(ValueError, match="filename must be a plain file name"):
        _entry("http://example.org/")


@pytest.mark.parametrize(
    ("url", "builtin"),
    [("builtin:cv2-telea", True), ("http://example.org/tiny.pth", False), ("/w/tiny.pth", False)],
)
def test_entry_is_builtin_when_its_url_has_the_builtin_scheme(url: str, builtin: bool) -> None:
    assert BUILTIN_SCHEME == "builtin:"
    assert _entry(url).builtin is builtin


# --- ModelRegistry ----------------------------------------------------------------------------


@pytest.fixture
def small_registry() -> ModelRegistry:
    return ModelRegistry(
        [
            _entry("http://x/tiny.pth", aliases=("tiny-alias",)),
            _entry("http://x/big.pth", name="big", task="upscale", family="esr"),
        ]
    )


def test_empty_registry_is_empty() -> None:
    registry = ModelRegistry()
    assert len(registry) == 0
    assert registry.names() == []
    assert list(registry) == []
    assert "anything" not in registry


@pytest.mark.parametrize("name", ["tiny", "testfam/tiny", "tiny-alias", "TINY", " Tiny "])
def test_get_finds_name_qualified_name_and_alias(small_registry: ModelRegistry, name: str) -> None:
    assert small_registry.get(name).name == "tiny"
    assert name in small_registry


def test_registry_lists_in_insertion_order(small_registry: ModelRegistry) -> None:
    assert small_registry.names() == ["tiny", "big"]
    assert [e.name for e in small_registry] == ["tiny", "big"]
    assert len(small_registry) == 2


def test_entries_filters_by_task(small_registry: ModelRegistry) -> None:
    assert [e.name for e in small_registry.entries(task="upscale")] == ["big"]
    assert [e.name for e in small_registry.entries()] == ["tiny", "big"]
    assert small_registry.entries(task="inpaint") == []


@pytest.mark.parametrize(
    "changes",
    [
        {},  # same name
        {"name": "other", "aliases": ("tiny",)},  # alias = existing name
        {"name": "other", "aliases": ("TINY-ALIAS",)},  # alias = existing alias, other case
        {"name": "other", "aliases": ("testfam/tiny",)},  # alias = existing qualified name
        {"name": "other", "upstream_name": "tiny"},  # same qualified name
    ],
)
def test_add_rejects_taken_names(small_registry: ModelRegistry, changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="already registered"):
        small_registry.add(_entry("http://x/other.pth", **changes))
    assert len(small_registry) == 2


def test_add_rejects_non_entries() -> None:
    with pytest.raises(TypeError, match="ZooEntry"):
        ModelRegistry().add("horse2zebra")  # type: ignore[arg-type]


def test_unknown_name_suggests_close_names() -> None:
    registry = ModelRegistry(translate_entries())
    with pytest.raises(UnknownModelError, match="unknown model 'hors2zebra'") as info:
        registry.get("hors2zebra")
    message = str(info.value)
    assert "'hors2zebra'" in message
    assert "horse2zebra" in message
    assert "ganedit models list" in message
    assert isinstance(info.value, KeyError)


def test_unknown_name_without_close_match_still_points_to_list() -> None:
    with pytest.raises(UnknownModelError, match="ganedit models list") as info:
        ModelRegistry(translate_entries()).get("qqqqqqqq")
    assert "Did you mean" not in str(info.value)


# --- built-in entries -------------------------------------------------------------------------

BUILTIN = translate_entries()


def test_builtin_entries_have_unique_names() -> None:
    registry = ModelRegistry(BUILTIN)  # add() raises on any clash of name, alias or qualified name
    assert len(registry) == len(BUILTIN) == 23
    assert len({e.name for e in BUILTIN}) == len(BUILTIN)


def test_builtin_entries_cover_the_upstream_scripts() -> None:
    cyclegan = {e.upstream_name for e in BUILTIN if e.family == "cyclegan"}
    pix2pix = {e.upstream_name for e in BUILTIN if e.family == "pix2pix"}
    assert len(cyclegan) == 18
    assert pix2pix == {"edges2shoes", "sat2map", "map2sat", "facades_label2photo", "day2night"}
    assert {"horse2zebra", "style_monet", "iphone2dslr_flower"} <= cyclegan


@pytest.mark.parametrize("entry", BUILTIN, ids=lambda e: e.qualified_name)
def test_builtin_entry_points_at_official_host(entry: ZooEntry) -> None:
    url = urlsplit(entry.url)
    assert url.scheme in ("http", "https")
    assert url.netloc == OFFICIAL_HOST
    assert url.path.endswith(f"/{entry.upstream_name}.pth")
    assert entry.filename == f"{entry.upstream_name}.pth"
    assert entry.sha256 is None
    assert entry.license == "BSD (junyanz/pytorch-CycleGAN-and-pix2pix)"
    assert entry.task == "translate"
    assert entry.description and "\n" not in entry.description
    assert "junyanz/pytorch-CycleGAN-and-pix2pix" in entry.source


@pytest.mark.parametrize("name", ["cv2-telea", "cv2-ns"])
def test_opencv_baselines_are_builtin_inpainting_entries(name: str) -> None:
    entry = default_registry().get(name)
    assert (entry.task, entry.family, entry.url) == ("inpaint", "opencv", f"builtin:{name}")
    assert entry.builtin


def test_only_the_opencv_baselines_are_builtin() -> None:
    builtin = {e.name for e in default_registry() if e.builtin}
    assert builtin == {"cv2-telea", "cv2-ns"}


@pytest.mark.parametrize("name", ["sat2map", "map2sat", "facades_label2photo"])
def test_bare_shared_name_is_pix2pix_and_prefixed_one_is_cyclegan(name: str) -> None:
    registry = ModelRegistry(BUILTIN)
    assert name in SHARED_NAMES
    assert registry.get(name).family == "pix2pix"
    assert registry.get(f"pix2pix/{name}") is registry.get(name)
    assert registry.get(f"pix2pix_{name}") is registry.get(name)
    cyclegan = registry.get(f"cyclegan_{name}")
    assert cyclegan.family == "cyclegan"
    assert registry.get(f"cyclegan/{name}") is cyclegan
    assert cyclegan.url.endswith(f"/cyclegan/pretrained_models/{name}.pth")
    assert registry.get(name).url.endswith(f"/pix2pix/models-pytorch/{name}.pth")
    for entry in (cyclegan, registry.get(name)):
        assert "bare name" in entry.description


def test_family_qualified_name_works_for_every_builtin() -> None:
    registry = ModelRegistry(BUILTIN)
    for entry in BUILTIN:
        assert registry.get(f"{entry.family}/{entry.upstream_name}") is entry


def test_shared_models_cache_to_different_files(tmp_path: Path) -> None:
    registry = ModelRegistry(BUILTIN)
    cache = ModelCache(tmp_path)
    assert cache.weights_path(registry.get("sat2map")) != cache.weights_path(
        registry.get("cyclegan_sat2map")
    )


# --- plugins ----------------------------------------------------------------------------------


@dataclass
class FakeEntryPoint:
    name: str
    target: object
    value: str = "fake_plugin:entries"

    def load(self) -> object:
        if isinstance(self.target, Exception):
            raise self.target
        return self.target


def _plugin_entry(name: str) -> ZooEntry:
    return _entry(f"http://plugin.example/{name}.pth", name=name, family="plugin")


def test_plugin_callable_returning_entries_is_added() -> None:
    registry = ModelRegistry()
    point = FakeEntryPoint("mine", lambda: [_plugin_entry("p1"), _plugin_entry("p2")])
    add_plugin_entries(registry, [point])
    assert registry.names() == ["p1", "p2"]


def test_plugin_loading_to_an_entry_is_added() -> None:
    registry = ModelRegistry()
    add_plugin_entries(registry, [FakeEntryPoint("single", _plugin_entry("p1"))])
    assert registry.get("plugin/p1").name == "p1"


@pytest.mark.parametrize(
    "target",
    [ImportError("no module named fake_plugin"), lambda: 42, lambda: ["not an entry"]],
    ids=["import-fails", "returns-int", "yields-str"],
)
def test_broken_plugin_warns_with_its_name_and_others_still_load(target: object) -> None:
    registry = ModelRegistry()
    points = [FakeEntryPoint("broken_one", target), FakeEntryPoint("good", _plugin_entry("p1"))]
    with pytest.warns(RuntimeWarning, match="broken_one"):
        add_plugin_entries(registry, points)
    assert registry.names() == ["p1"]


def test_plugin_reusing_a_builtin_name_warns_and_builtin_wins() -> None:
    registry = ModelRegistry(BUILTIN)
    clash = _entry("http://plugin.example/h.pth", name="horse2zebra", family="plugin")
    with pytest.warns(RuntimeWarning, match="horse2zebra"):
        add_plugin_entries(registry, [FakeEntryPoint("clasher", lambda: [clash])])
    assert registry.get("horse2zebra").family == "cyclegan"


def test_default_registry_holds_builtins_and_installed_plugins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    points = [
        FakeEntryPoint("good", lambda: [_plugin_entry("p1")]),
        FakeEntryPoint("bad", RuntimeError("boom")),
    ]
    monkeypatch.setattr(registry_module, "_plugin_entry_points", lambda: points)
    default_registry.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="'bad'.*boom"):
            registry = default_registry()
        assert "horse2zebra" in registry
        assert "p1" in registry
        assert default_registry() is registry  # built once
    finally:
        default_registry.cache_clear()


def test_plugin_entry_points_come_from_importlib_metadata(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.metadata

    seen: list[str] = []

    def fake_entry_points(*, group: str) -> list[FakeEntryPoint]:
        seen.append(group)
        return [FakeEntryPoint("good", _plugin_entry("p1"))]

    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)
    registry = ModelRegistry()
    add_plugin_entries(registry)
    assert seen == ["ganedit.models"]
    assert registry.names() == ["p1"]


# --- download ---------------------------------------------------------------------------------


def test_download_over_http_reports_progress(server: ServerState, tmp_path: Path) -> None:
    calls: list[tuple[int, int | None]] = []
    dest = tmp_path / "sub" / "tiny.pth"
    digest = download(server.url("/tiny.pth"), dest, progress=lambda d, t: calls.append((d, t)))
    assert digest == PAYLOAD_SHA
    assert dest.read_bytes() == PAYLOAD
    assert calls[0] == (0, len(PAYLOAD))
    assert calls[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert os.listdir(dest.parent) == ["tiny.pth"]


@pytest.mark.parametrize("as_url", [True, False], ids=["file-url", "plain-path"])
def test_download_copies_local_files(tmp_path: Path, as_url: bool) -> None:
    source = tmp_path / "source dir" / "w.pth"
    source.parent.mkdir()
    source.write_bytes(PAYLOAD)
    calls: list[tuple[int, int | None]] = []
    dest = tmp_path / "out" / "w.pth"
    url = source.as_uri() if as_url else str(source)
    digest = download(
        url, dest, expected_sha256=PAYLOAD_SHA, progress=lambda d, t: calls.append((d, t))
    )
    assert digest == PAYLOAD_SHA
    assert dest.read_bytes() == PAYLOAD
    assert calls[-1] == (len(PAYLOAD), len(PAYLOAD))


@pytest.mark.parametrize("dest_exists", [False, True])
def test_checksum_mismatch_leaves_dest_untouched(
    server: ServerState, tmp_path: Path, dest_exists: bool
) -> None:
    dest = tmp_path / "tiny.pth"
    if dest_exists:
        dest.write_bytes(b"old")
    wrong = "0" * 64
    with pytest.raises(ChecksumMismatchError, match="checksum mismatch for http") as info:
        download(server.url("/tiny.pth"), dest, expected_sha256=wrong)
    assert isinstance(info.value, DownloadError)
    message = str(info.value)
    assert server.url("/tiny.pth") in message
    assert wrong in message and PAYLOAD_SHA in message
    assert sorted(os.listdir(tmp_path)) == (["tiny.pth"] if dest_exists else [])
    if dest_exists:
        assert dest.read_bytes() == b"old"


def test_http_404_raises_naming_url_and_status(server: ServerState, tmp_path: Path) -> None:
    url = server.url("/missing.pth")
    with pytest.raises(DownloadError, match="404") as info:
        download(url, tmp_path / "m.pth")
    assert url in str(info.value)
    assert os.listdir(tmp_path) == []


def test_connection_refused_raises_naming_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}/x.pth"
    with pytest.raises(DownloadError, match="refused") as info:
        download(url, tmp_path / "x.pth", timeout=5)
    assert url in str(info.value)
    assert os.listdir(tmp_path) == []


def test_silent_server_times_out(tmp_path: Path) -> None:
    with socket.socket() as listener:  # Accepts connections (backlog) but never answers.
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/slow.pth"
        with pytest.raises(DownloadError, match=r"timed out after 0\.2 s") as info:
            download(url, tmp_path / "slow.pth", timeout=0.2)
    assert url in str(info.value)
    assert os.listdir(tmp_path) == []


def test_missing_local_file_raises(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="no such file"):
        download(str(tmp_path / "nope.pth"), tmp_path / "out.pth")


def test_unsupported_scheme_raises(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="unsupported URL scheme 'ftp'"):
        download("ftp://example.org/x.pth", tmp_path / "x.pth")


def test_bad_expected_sha256_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="64 hex digits"):
        download("http://127.0.0.1:1/x.pth", tmp_path / "x.pth", expected_sha256="abc")


def test_dropped_connection_resumes_with_range(server: ServerState, tmp_path: Path) -> None:
    server.cut_after["/tiny.pth"] = [30_000]
    calls: list[tuple[int, int | None]] = []
    dest = tmp_path / "tiny.pth"
    digest = download(server.url("/tiny.pth"), dest, progress=lambda d, t: calls.append((d, t)))
    assert digest == PAYLOAD_SHA
    assert dest.read_bytes() == PAYLOAD
    assert server.requests == [("/tiny.pth", None), ("/tiny.pth", "bytes=30000-")]
    assert calls[-1] == (len(PAYLOAD), len(PAYLOAD))


def test_dropped_connection_restarts_when_range_is_ignored(
    server: ServerState, tmp_path: Path
) -> None:
    server.cut_after["/tiny.pth"] = [30_000]
    server.honour_range = False
    dest = tmp_path / "tiny.pth"
    assert download(server.url("/tiny.pth"), dest, expected_sha256=PAYLOAD_SHA) == PAYLOAD_SHA
    assert dest.read_bytes() == PAYLOAD
    assert server.hits("/tiny.pth") == 2


def test_connection_closed_before_reply_is_retried_once(
    server: ServerState, tmp_path: Path
) -> None:
    server.hang_ups = 1
    dest = tmp_path / "tiny.pth"
    assert download(server.url("/tiny.pth"), dest) == PAYLOAD_SHA
    assert server.hits("/tiny.pth") == 2


def test_broken_chunked_reply_resumes_where_it_stopped(
    server: ServerState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(download_module, "_CHUNK", 4096)  # 6 whole reads, then the break
    server.chunked_cut = 25_000
    calls: list[tuple[int, int | None]] = []
    dest = tmp_path / "tiny.pth"
    digest = download(server.url("/tiny.pth"), dest, progress=lambda d, t: calls.append((d, t)))
    assert digest == PAYLOAD_SHA
    assert dest.read_bytes() == PAYLOAD
    assert server.requests == [("/tiny.pth", None), ("/tiny.pth", "bytes=24576-")]
    assert calls[:2] == [(0, None), (4096, None)]
    assert calls[-1] == (len(PAYLOAD), len(PAYLOAD))


def test_connection_closed_twice_raises(server: ServerState, tmp_path: Path) -> None:
    server.hang_ups = 2
    with pytest.raises(DownloadError, match="connection dropped") as info:
        download(server.url("/tiny.pth"), tmp_path / "tiny.pth")
    assert server.url("/tiny.pth") in str(info.value)
    assert os.listdir(tmp_path) == []


def test_checksum_error_survives_pickling() -> None:
    import pickle

    error = ChecksumMismatchError("m", url="u", expected="a" * 64, actual="b" * 64)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.url, copy.expected, copy.actual) == ("m", "u", "a" * 64, "b" * 64)


def test_short_read_twice_raises_and_leaves_no_file(server: ServerState, tmp_path: Path) -> None:
    server.cut_after["/tiny.pth"] = [30_000, 10_000]
    with pytest.raises(DownloadError, match="short read") as info:
        download(server.url("/tiny.pth"), tmp_path / "tiny.pth")
    assert server.url("/tiny.pth") in str(info.value)
    assert os.listdir(tmp_path) == []


def test_failing_progress_callback_leaves_no_file(server: ServerState, tmp_path: Path) -> None:
    def progress(done: int, total: int | None) -> None:
        if done:
            raise KeyboardInterrupt("stopped by the progress callback")

    with pytest.raises(KeyboardInterrupt, match="stopped by the progress callback"):
        download(server.url("/tiny.pth"), tmp_path / "tiny.pth", progress=progress)
    assert os.listdir(tmp_path) == []


# --- cache home -------------------------------------------------------------------------------


def test_ganedit_home_respects_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GANEDIT_HOME", str(tmp_path / "custom"))
    assert ganedit_home() == tmp_path / "custom"
    assert (tmp_path / "custom").is_dir()
    assert ModelCache().home == tmp_path / "custom"


def test_ganedit_home_defaults_to_user_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("GANEDIT_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert ganedit_home() == tmp_path / ".cache" / "ganedit"


def test_cache_layout(tmp_path: Path) -> None:
    cache = ModelCache(tmp_path)
    entry = _entry("http://x/files/w.pth")
    assert cache.weights_path(entry) == tmp_path / "weights" / "testfam" / "w.pth"
    assert cache.onnx_path(entry) == tmp_path / "onnx" / "tiny.onnx"
    assert cache.onnx_path(entry, ".fp16") == tmp_path / "onnx" / "tiny.fp16.onnx"
    assert cache.onnx_path(entry, "-running") == tmp_path / "onnx" / "tiny-running.onnx"
    assert list(tmp_path.iterdir()) == []  # nothing created by asking


@pytest.mark.parametrize("variant", ["fp16", "./x", ".a/b"])
def test_onnx_path_rejects_bad_variants(tmp_path: Path, variant: str) -> None:
    with pytest.raises(ValueError, match="variant"):
        ModelCache(tmp_path).onnx_path(_entry("http://x/w.pth"), variant)


# --- fetch ------------------------------------------------------------------------------------


def test_first_fetch_records_sha256_and_second_does_not_download(
    server: ServerState, tmp_path: Path
) -> None:
    cache = ModelCache(tmp_path)
    entry = _entry(server.url("/tiny.pth"))
    calls: list[tuple[int, int | None]] = []
    path = cache.fetch(entry, progress=lambda d, t: calls.append((d, t)))
    assert path == cache.weights_path(entry)
    assert path.read_bytes() == PAYLOAD
    assert calls[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert cache.recorded_sha256(entry) == PAYLOAD_SHA
    record = json.loads(cache.checksums_path.read_text())["files"]["testfam/tiny.pth"]
    assert record["sha256"] == PAYLOAD_SHA and record["url"] == entry.url
    assert cache.is_cached(entry)

    assert cache.fetch(entry) == path
    assert server.hits("/tiny.pth") == 1


def test_unchanged_cached_file_is_not_hashed_again(
    server: ServerState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = ModelCache(tmp_path)
    entry = _entry(server.url("/tiny.pth"))
    cache.fetch(entry)
    hashed: list[Path] = []
    real = cache_module.sha256_file
    monkeypatch.setattr(cache_module, "sha256_file", lambda p: hashed.append(p) or real(p))
    cache.fetch(entry)
    cache.fetch(entry)
    assert hashed == []
    path = cache.weights_path(entry)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert cache.verify(entry) == PAYLOAD_SHA  # touched: hashed once, then trusted again
    cache.fetch(entry)
    assert hashed == [path]


def _tamper(path: Path) -> None:
    # Same size, so only the changed mtime tells; bump it so coarse clocks cannot hide it.
    stat = path.stat()
    path.write_bytes(b"X" + path.read_bytes()[1:])
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


def test_modified_cached_file_is_reported_corrupt(server: ServerState, tmp_path: Path) -> None:
    cache = ModelCache(tmp_path)
    entry = _entry(server.url("/tiny.pth"))
    path = cache.fetch(entry)
    _tamper(path)
    with pytest.raises(DownloadError, match="corrupt") as info:
        cache.fetch(entry)
    message = str(info.value)
    assert "ganedit models pull tiny --force" in message
    assert PAYLOAD_SHA in message
    assert server.hits("/tiny.pth") == 1


def test_force_downloads_again_and_repairs_a_corrupt_file(
    server: ServerState, tmp_path: Path
) -> None:
    cache = ModelCache(tmp_path)
    entry = _entry(server.url("/tiny.pth"))
    path = cache.fetch(entry)
    _tamper(path)
    assert cache.fetch(entry, force=True) == path
    assert server.hits("/tiny.pth") == 2
    assert path.read_bytes() == PAYLOAD
    assert cache.fetch(entry) == path  # verified again without complaint
    assert server.hits("/tiny.pth") == 2


def test_changed_upstream_file_is_refused_against_the_record(
    server: ServerState, tmp_path: Path
) -> None:
    cache = ModelCache(tmp_path)
    entry = _entry(server.url("/tiny.pth"))
    path = cache.fetch(entry)
    server.files["/tiny.pth"] = b"something else"
    with pytest.raises(DownloadError, match="different file than when model 'tiny' was first"):
        cache.fetch(entry, force=True)
    assert path.read_bytes() == PAYLOAD  # the good cached copy is kept
    assert cache.recorded_sha256(entry) == PAYLOAD_SHA


def test_published_sha256_is_enforced_on_download(server: ServerState, tmp_path: Path) -> None:
    cache = ModelCache(tmp_path)
    entry = _entry(server.url("/tiny.pth"), sha256="1" * 64)
    with pytest.raises(DownloadError, match="published"):
        cache.fetch(entry)
    assert not cache.is_cached(entry)
    assert cache.recorded_sha256(entry) is None


def test_published_sha256_is_enforced_on_cached_file(tmp_path: Path) -> None:
    cache = ModelCache(tmp_path)
    entry = _entry("http://127.0.0.1:1/tiny.pth", sha256="1" * 64)
    cache.weights_path(entry).parent.mkdir(parents=True)
    cache.weights_path(entry).write_bytes(PAYLOAD)
    with pytest.raises(DownloadError, match="corrupt"):
        cache.fetch(entry)


def test_file_copied_into_cache_is_trusted_and_recorded(tmp_path: Path) -> None:
    cache = ModelCache(tmp_path)
    entry = _entry("http://127.0.0.1:1/tiny.pth")  # would be refused: proves no download
    cache.weights_path(entry).parent.mkdir(parents=True)
    cache.weights_path(entry).write_bytes(PAYLOAD)
    assert cache.fetch(entry) == cache.weights_path(entry)
    assert cache.recorded_sha256(entry) == PAYLOAD_SHA


def test_fetch_from_file_url(tmp_path: Path) -> None:
    source = tmp_path / "src" / "w.pth"
    source.parent.mkdir()
    source.write_bytes(PAYLOAD)
    cache = ModelCache(tmp_path / "home")
    path = cache.fetch(_entry(source.as_uri()))
    assert path == tmp_path / "home" / "weights" / "testfam" / "w.pth"
    assert path.read_bytes() == PAYLOAD


@pytest.mark.parametrize(
    "content",
    ["{not json", "[]", '{"files": []}', '{"files": {"a/b": {"url": "u"}}}', '{"format": 99}'],
)
def test_corrupt_checksums_file_raises_clear_error(
    server: ServerState, tmp_path: Path, content: str
) -> None:
    cache = ModelCache(tmp_path)
    cache.checksums_path.write_text(content)
    with pytest.raises(DownloadError, match=r"checksum record .* is corrupt.*delete it"):
        cache.fetch(_entry(server.url("/tiny.pth")))


def test_verify_of_missing_file_says_how_to_pull(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="ganedit models pull tiny"):
        ModelCache(tmp_path).verify(_entry("http://x/tiny.pth"))


def test_remove_deletes_weights_record_and_onnx_files(server: ServerState, tmp_path: Path) -> None:
    cache = ModelCache(tmp_path)
    entry = _entry(server.url("/tiny.pth"))
    other = _entry(server.url("/tiny.pth"), name="tiny2", family="otherfam")
    cache.fetch(entry)
    cache.fetch(other)
    onnx = [cache.onnx_path(entry), cache.onnx_path(entry, ".fp16"), cache.onnx_path(other)]
    onnx.append(cache.onnx_path(entry, "-running"))
    for path in onnx:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"onnx")
    removed = cache.remove(entry, variants=("-running",))
    assert set(removed) == {cache.weights_path(entry), *onnx[:2], onnx[3]}
    assert not cache.is_cached(entry)
    assert cache.recorded_sha256(entry) is None
    assert cache.is_cached(other) and cache.onnx_path(other).exists()
    assert cache.recorded_sha256(other) == PAYLOAD_SHA
    assert cache.remove(entry) == []
