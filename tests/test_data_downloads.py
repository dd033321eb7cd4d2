"""The online loaders' download code, run against a stand-in HTTP server on 127.0.0.1.

The default paths are offline; these are the loaders a learner calls by hand
(:func:`browserml.data.ecg5000.load_tensorflow_csv`) or picks by name
(``TINYIMAGENET-200``, ``CIFAR10-200``). The module-level URL constants are pointed at a
``ThreadingHTTPServer`` on port 0 (loopback is reachable under ``.ci/offline`` and the
conftest socket guard), which serves the bytes each test made, or fails in one way: 404,
a body shorter than its Content-Length, bytes that fail the loader's check, or no answer
at all. Every failure must be one ``BadInput``-family line and leave nothing in the
cache folder; a second call must read the cache without a request.
"""

from __future__ import annotations

import http.server
import io
import os
import sys
import threading
import types
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from browserml.data import ecg5000 as ecg
from browserml.data import images as im
from browserml.data.images import sets as im_sets
from browserml.errors import BadInput

HANG_S = 5.0  # the most a "never answers" handler waits (released at teardown anyway)


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    mode: str = "ok"  # "ok", "truncate" (claims more bytes than it sends), "hang" (never answers)


@dataclass
class FakeServer:
    base: str
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer(base="")
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with lock:
                fake.requests.append(self.path)
            route = fake.routes.get(self.path, Route(status=404))
            if route.mode == "hang":
                fake.release.wait(HANG_S)
                return
            self.send_response(route.status)
            sent = route.body if route.mode == "ok" else route.body[: len(route.body) // 2]
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(sent)
            self.wfile.flush()

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake.base = f"http://127.0.0.1:{httpd.server_port}"
    try:
        yield fake
    finally:
        fake.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def cache_files(folder: Path) -> list[str]:
    """Every file under the cache folder (staging files start with a dot, so list them all)."""
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def watch_replace(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, bytes]]:
    """Record each ``os.replace``: the final file must appear in one rename of a complete
    sibling staging file, never be written in place."""
    renames: list[tuple[str, str, bytes]] = []
    real = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        src, dst = Path(src), Path(dst)
        assert not dst.exists(), f"{dst} existed before its rename"
        assert src.parent == dst.parent and src.name.startswith(f".{dst.name}.tmp-")
        renames.append((src.name, dst.name, src.read_bytes()))
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    return renames


def one_line(err: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(err.value)
    assert isinstance(err.value, BadInput) and "\n" not in message
    return message


# --- ECG5000: the TensorFlow tutorial's CSV ---------------------------------------------


def ecg_csv() -> tuple[bytes, np.ndarray, np.ndarray]:
    """A 6-beat CSV in the TensorFlow layout (140 values, then 1 or 0), and its values."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(6, ecg.N_STEPS))
    y = np.array([1, 0, 1, 1, 0, 1])
    lines = [",".join([*(repr(float(v)) for v in row), str(label)]) for row, label in zip(x, y)]
    return ("\n".join(lines) + "\n").encode("ascii"), x, y


def test_ecg_download_is_cached_atomically_then_read_without_a_request(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, watch_replace: list
) -> None:
    body, x, y = ecg_csv()
    server.routes["/data/ecg.csv"] = Route(body)
    monkeypatch.setattr(ecg, "ONLINE_CSV_URL", server.url("/data/ecg.csv"))
    cache = tmp_path / "cache"
    beats = ecg.load_tensorflow_csv(cache_dir=cache)  # the default url is the module constant
    np.testing.assert_array_equal(beats.x, x.astype(np.float32))
    np.testing.assert_array_equal(beats.y, y)
    assert server.requests == ["/data/ecg.csv"]
    assert cache_files(cache) == ["ecg.csv"] and (cache / "ecg.csv").read_bytes() == body
    assert [(dst, data) for _, dst, data in watch_replace] == [("ecg.csv", body)]
    again = ecg.load_tensorflow_csv(cache_dir=cache)
    assert server.requests == ["/data/ecg.csv"], "the second call downloaded again"
    np.testing.assert_array_equal(again.x, beats.x)
    np.testing.assert_array_equal(again.y, beats.y)


def test_ecg_default_cache_dir_follows_xdg(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body, _, _ = ecg_csv()
    server.routes["/ecg.csv"] = Route(body)
    monkeypatch.setattr(ecg, "ONLINE_CSV_URL", server.url("/ecg.csv"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert ecg.load_tensorflow_csv().n == 6
    assert (tmp_path / "browserml" / "ecg.csv").read_bytes() == body


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (Route(status=404), r"HTTP Error 404"),
        (Route(ecg_csv()[0], mode="truncate"), r"the body ended after \d+ bytes, \d+ more were expected"),
        (Route(ecg_csv()[0].replace(b",0\n", b",7\n")), r"ecg\.csv: line 2: label 7 is not one of \[0, 1\]"),
        (Route(mode="hang"), r"timed out"),
    ],
    ids=["404", "truncated", "bad-content", "no-answer"],
)
def test_ecg_failed_download_is_one_line_and_caches_nothing(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, route: Route, message: str
) -> None:
    server.routes["/ecg.csv"] = route
    monkeypatch.setattr(ecg, "ONLINE_CSV_URL", server.url("/ecg.csv"))
    monkeypatch.setattr(ecg, "DOWNLOAD_TIMEOUT_S", 0.3)
    cache = tmp_path / "cache"
    with pytest.raises(ecg.ECGDataError, match=message) as err:
        ecg.load_tensorflow_csv(cache_dir=cache)
    text = one_line(err)
    if route.mode != "ok" or route.status != 200:  # network failures point at the offline files
        assert text.startswith(f"could not download {server.url('/ecg.csv')} (") and "load_ucr()" in text
    assert cache_files(cache) == []


# --- Tiny ImageNet: _download_file ------------------------------------------------------

WNIDS = ("n01443537", "n01629819")
WORDS = {"n01443537": "goldfish, Carassius auratus", "n01629819": "European fire salamander"}


def tiny_zip() -> tuple[bytes, np.ndarray]:
    """A Tiny ImageNet-shaped zip, 2 classes x 3 images, and the pixels it holds.

    The images are PNG bytes under the ``.JPEG`` names (the loader decodes by content),
    so the loaded pixels can be compared exactly with the ones generated here.
    """
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, size=(len(WNIDS), 3, 64, 64, 3), dtype=np.uint8)
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as archive:
        archive.writestr("tiny-imagenet-200/wnids.txt", "\n".join(WNIDS) + "\n")
        archive.writestr("tiny-imagenet-200/words.txt", "".join(f"{w}\t{n}\n" for w, n in WORDS.items()))
        for wnid, images in zip(WNIDS, pixels):
            for i, image in enumerate(images):
                png = io.BytesIO()
                Image.fromarray(image).save(png, format="PNG")
                archive.writestr(f"tiny-imagenet-200/train/{wnid}/images/{wnid}_{i}.JPEG", png.getvalue())
    return stream.getvalue(), pixels


def test_tinyimagenet_download_is_cached_atomically_then_read_without_a_request(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, watch_replace: list
) -> None:
    body, pixels = tiny_zip()
    server.routes["/tiny-imagenet-200.zip"] = Route(body)
    monkeypatch.setattr(im_sets, "TINYIMAGENET_URL", server.url("/tiny-imagenet-200.zip"))
    cache = tmp_path / "cache"
    data = im.load_tinyimagenet_subset(n_classes=2, per_class=3, seed=0, cache_dir=cache)
    # every class and every image is taken, so the order is the sorted wnids and file names
    np.testing.assert_array_equal(data.images, pixels.reshape(-1, 64, 64, 3))
    assert data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert data.class_names == ("goldfish", "European fire salamander")
    assert server.requests == ["/tiny-imagenet-200.zip"]
    assert cache_files(cache) == ["tiny-imagenet-200.zip"]
    assert (cache / "tiny-imagenet-200.zip").read_bytes() == body
    assert [(dst, data) for _, dst, data in watch_replace] == [("tiny-imagenet-200.zip", body)]
    again = im.load_tinyimagenet_subset(n_classes=2, per_class=3, seed=0, cache_dir=cache)
    assert server.requests == ["/tiny-imagenet-200.zip"], "the second call downloaded again"
    assert again.fingerprint() == data.fingerprint()


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (Route(status=404), r"could not download \S+ \(HTTP Error 404: Not Found\)"),
        (Route(tiny_zip()[0], mode="truncate"), r"could not download \S+ \(the body ended after \d+ of \d+ bytes\)"),
        (Route(b"<html>moved</html>"), r"tiny-imagenet-200\.zip: the download is not a zip archive"),
        (Route(mode="hang"), r"could not download \S+ \(.*timed out"),
    ],
    ids=["404", "truncated", "bad-content", "no-answer"],
)
def test_tinyimagenet_failed_download_is_one_line_and_caches_nothing(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, route: Route, message: str
) -> None:
    server.routes["/tiny-imagenet-200.zip"] = route
    monkeypatch.setattr(im_sets, "TINYIMAGENET_URL", server.url("/tiny-imagenet-200.zip"))
    monkeypatch.setattr(im_sets, "DOWNLOAD_TIMEOUT_S", 0.3)
    cache = tmp_path / "cache"
    with pytest.raises(im.ImageDataError, match=message) as err:
        im.load_tinyimagenet_subset(n_classes=2, per_class=3, cache_dir=cache)
    one_line(err)
    assert cache_files(cache) == []


def test_a_zip_without_wnids_is_refused(server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as archive:
        archive.writestr("something-else/readme.txt", "not tiny imagenet")
    server.routes["/tiny-imagenet-200.zip"] = Route(stream.getvalue())
    monkeypatch.setattr(im_sets, "TINYIMAGENET_URL", server.url("/tiny-imagenet-200.zip"))
    with pytest.raises(im.ImageDataError, match=r"the archive has no tiny-imagenet-200/wnids\.txt") as err:
        im.load_tinyimagenet_subset(cache_dir=tmp_path)
    one_line(err)
    assert cache_files(tmp_path) == []


def test_load_image_set_downloads_tinyimagenet_by_name(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI and the widget reach the download through the registry name."""
    server.routes["/tiny-imagenet-200.zip"] = Route(status=404)
    monkeypatch.setattr(im_sets, "TINYIMAGENET_URL", server.url("/tiny-imagenet-200.zip"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(BadInput, match=r"404.*the offline sets are FASHION200, PHOTOS200"):
        im.load_image_set("tinyimagenet-200")
    assert server.requests == ["/tiny-imagenet-200.zip"] and cache_files(tmp_path) == []


# --- CIFAR-10: tf_keras downloads; its failures become one line -------------------------

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


@pytest.mark.parametrize(
    "raised",
    [
        # what tf_keras.utils.get_file raises (tf_keras/src/utils/data_utils.py), word for word
        Exception(f"URL fetch failure on {ORIGIN}: 404 -- Not Found"),
        Exception(f"URL fetch failure on {ORIGIN}: None -- retrieval incomplete: got only 5 out of 10 bytes"),
        ValueError("Incomplete or corrupted file detected. The sha256 file hash does not match the provided "
                   "value of 6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce."),
    ],
    ids=["404", "truncated", "checksum"],
)
def test_cifar10_download_failures_are_one_line(monkeypatch: pytest.MonkeyPatch, raised: Exception) -> None:
    """CIFAR-10's download, cache and sha256 are tf_keras's own (its URL is a local variable
    of ``tf_keras.datasets.cifar10.load_data``, and importing tf_keras takes seconds), so a
    stand-in ``tf_keras`` raises exactly what ``get_file`` raises."""

    def load_data() -> None:
        raise raised

    fake = types.SimpleNamespace(datasets=types.SimpleNamespace(cifar10=types.SimpleNamespace(load_data=load_data)))
    monkeypatch.setitem(sys.modules, "tf_keras", fake)
    with pytest.raises(im.ImageDataError, match=r"could not download CIFAR-10 \(.*the offline sets are") as err:
        im.load_cifar10_subset()
    one_line(err)
    assert err.value.__cause__ is raised


def test_cifar10_other_errors_keep_their_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def load_data() -> None:
        raise RuntimeError("a bug, not a download failure")

    fake = types.SimpleNamespace(datasets=types.SimpleNamespace(cifar10=types.SimpleNamespace(load_data=load_data)))
    monkeypatch.setitem(sys.modules, "tf_keras", fake)
    with pytest.raises(RuntimeError, match="a bug"):
        im.load_cifar10_subset()
