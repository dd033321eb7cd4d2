"""Lesson 3's image data: the two offline sets, the idx parser, the folder loader's errors.

References are independent of the code under test: FASHION200 is checked against
Debian's files parsed by hand (``gzip`` + ``np.frombuffer``), PHOTOS200's labels by a
nearest-crop search that shares nothing with the augmentation code, and colour
conversions against closed-form values (alpha blending onto white, 16-bit / 257).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import shutil
import struct
import sys
import types
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from browserml.data import images as im
from browserml.data.images import ImageDataError, ImageSet
from browserml.data.provenance import DataIntegrityError, verify

DEBIAN = im.DEBIAN_FASHION_MNIST_DIR
needs_debian = pytest.mark.skipif(
    not (DEBIAN / "t10k-images-idx3-ubyte.gz").is_file(),
    reason="Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)",
)


def debian_t10k() -> tuple[np.ndarray, np.ndarray]:
    """The Fashion-MNIST test set parsed by hand: 16- and 8-byte headers skipped, no checks."""
    images = gzip.decompress((DEBIAN / "t10k-images-idx3-ubyte.gz").read_bytes())
    labels = gzip.decompress((DEBIAN / "t10k-labels-idx1-ubyte.gz").read_bytes())
    return np.frombuffer(images[16:], np.uint8).reshape(-1, 28, 28), np.frombuffer(labels[8:], np.uint8)


def png_bytes(image: Image.Image, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **params)
    return buffer.getvalue()


def jpeg_bytes(image: Image.Image, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95, **params)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG header announcing width x height, with almost no pixel data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + pixels + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def fashion() -> ImageSet:
    return im.fashion200()


@pytest.fixture(scope="module")
def photos() -> ImageSet:
    return im.photos200(0)


# --- ImageSet --------------------------------------------------------------------------


def small_set(n: int = 4) -> ImageSet:
    images = np.arange(n * 16 * 16 * 3, dtype=np.int64).reshape(n, 16, 16, 3).astype(np.uint8)
    return ImageSet("tiny", images, np.arange(n) % 2, ("a", "b"), "test set", "made up")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"images": np.zeros((2, 16, 16, 3), np.float32)}, "uint8"),
        ({"images": np.zeros((2, 16, 16), np.uint8)}, r"\[n, h, w, 3\]"),
        ({"labels": np.array([0, 1, 0])}, "one label per image"),
        ({"labels": np.array([0.0, 1.0])}, "integers"),
        ({"labels": np.array([0, 2])}, "label 2 at index 1"),
        ({"class_names": ("a", "a")}, "distinct"),
        ({"name": ""}, "non-empty"),
    ],
)
def test_imageset_rejects_bad_fields(change: dict, message: str) -> None:
    fields = {"name": "x", "images": np.zeros((2, 16, 16, 3), np.uint8), "labels": np.array([0, 1]),
              "class_names": ("a", "b"), "description": "d", "source": "s"}
    with pytest.raises(ImageDataError, match=message):
        ImageSet(**{**fields, **change})


def test_imageset_is_read_only_and_subsets_keep_class_names() -> None:
    data = small_set(6)
    assert not data.images.flags.writeable and not data.labels.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        data.images[0, 0, 0, 0] = 1
    mine = np.zeros((1, 16, 16, 3), np.uint8)
    kept = ImageSet("x", mine, [0], ("a",), "", "")
    mine[0, 0, 0, 0] = 9  # the caller's array stays theirs; the set took a copy
    assert kept.images[0, 0, 0, 0] == 0
    assert data.labels.dtype == np.int64 and len(data) == 6
    np.testing.assert_array_equal(data.by_class(1), [1, 3, 5])
    picked = data.subset([5, 0])
    np.testing.assert_array_equal(picked.images, data.images[[5, 0]])
    assert picked.class_names == data.class_names and list(picked.labels) == [1, 0]
    assert len(data.subset(data.labels == 0)) == 3
    with pytest.raises(ValueError, match="one entry per image"):
        data.subset([True, False])


def test_fingerprint_follows_pixels_labels_and_class_names_not_the_name() -> None:
    data = small_set()
    same = ImageSet("other name", data.images.copy(), data.labels.copy(), ("a", "b"), "other", "other")
    assert data.fingerprint() == same.fingerprint()
    assert re.fullmatch(r"[0-9a-f]{64}", data.fingerprint())
    pixels = data.images.copy()
    pixels[3, 15, 15, 2] ^= 1
    changed = [
        ImageSet("tiny", pixels, data.labels, ("a", "b"), "", "x"),
        ImageSet("tiny", data.images, data.labels[::-1].copy(), ("a", "b"), "", "x"),
        ImageSet("tiny", data.images, data.labels, ("a", "c"), "", "x"),
    ]
    assert len({data.fingerprint(), *(c.fingerprint() for c in changed)}) == 4


# --- FASHION200 and Fashion-MNIST ------------------------------------------------------


def test_fashion200_shape_classes_and_gray_to_rgb(fashion: ImageSet) -> None:
    assert fashion.images.shape == (200, 28, 28, 3) and fashion.images.dtype == np.uint8
    assert fashion.labels.dtype == np.int64
    assert np.bincount(fashion.labels).tolist() == [20] * 10
    assert fashion.class_names == (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    )
    np.testing.assert_array_equal(fashion.images[..., 0], fashion.images[..., 2])
    assert "Fashion-MNIST" in fashion.description and "MIT" in fashion.source
    assert im.fashion200() is fashion  # cached


@needs_debian
def test_fashion200_are_the_recorded_debian_test_images(fashion: ImageSet) -> None:
    images, labels = debian_t10k()
    provenance = json.loads((im.fashion200_dir() / "PROVENANCE.json").read_text())
    indices = np.concatenate(list(provenance["selection"]["test_set_indices"].values()))
    np.testing.assert_array_equal(fashion.images[..., 1], images[indices])
    np.testing.assert_array_equal(fashion.labels, labels[indices])
    # the rule the provenance states: the first 20 of each class, in test-set order
    expected = np.concatenate([np.flatnonzero(labels == k)[:20] for k in range(10)])
    np.testing.assert_array_equal(indices, expected)


def test_fashion200_provenance_verifies_and_a_tampered_copy_fails(tmp_path: Path) -> None:
    provenance = verify(im.fashion200_dir())
    assert {e["name"] for e in provenance["files"]} == set(im.FASHION200_FILES)
    assert all("Zalando SE" in e["license"] and "MIT" in e["license"] for e in provenance["files"])
    copy = tmp_path / "fashion200"
    shutil.copytree(im.fashion200_dir(), copy)
    content = bytearray(gzip.decompress((copy / "images-idx3-ubyte.gz").read_bytes()))
    content[1000] ^= 0xFF  # one pixel
    (copy / "images-idx3-ubyte.gz").write_bytes(gzip.compress(bytes(content), mtime=0))
    with pytest.raises(DataIntegrityError, match="images-idx3-ubyte.gz"):
        verify(copy)


@needs_debian
def test_rebuilding_fashion200_from_debian_gives_identical_files(tmp_path: Path) -> None:
    out = im.build_fashion200(DEBIAN, tmp_path / "rebuilt")
    for name in im.FASHION200_FILES:
        rebuilt = gzip.decompress((out / name).read_bytes())
        committed = gzip.decompress((im.fashion200_dir() / name).read_bytes())
        assert rebuilt == committed, name
    verify(out)
    fresh = json.loads((out / "PROVENANCE.json").read_text())
    committed_provenance = json.loads((im.fashion200_dir() / "PROVENANCE.json").read_text())
    for entry in (*fresh["files"], *committed_provenance["files"]):
        entry.pop("sha256")  # the .gz bytes depend on the zlib build; their content does not
    assert fresh == committed_provenance


@needs_debian
def test_full_fashion_mnist_from_debian() -> None:
    test_images, test_labels = im.fashion_mnist("test")
    images, labels = debian_t10k()
    np.testing.assert_array_equal(test_images, images)
    assert test_labels.dtype == np.int64 and np.bincount(test_labels).tolist() == [1000] * 10
    train_images, train_labels = im.fashion_mnist("train")
    assert train_images.shape == (60000, 28, 28) and np.bincount(train_labels).tolist() == [6000] * 10
    all_images, all_labels = im.fashion_mnist("all")
    assert all_images.shape == (70000, 28, 28)
    np.testing.assert_array_equal(all_labels[60000:], test_labels)
    assert not train_images.flags.writeable


def test_fashion_mnist_missing_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"apt-get install dataset-fashion-mnist.*make setup"):
        im.fashion_mnist("test", folder=tmp_path)
    with pytest.raises(ValueError, match="split"):
        im.fashion_mnist("validation")  # type: ignore[arg-type]


# --- the idx parser --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["u1", "i1", ">i2", ">i4", ">f4", ">f8"])
def test_idx_round_trip_and_known_header(dtype: str) -> None:
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    data = im.encode_idx(array)
    code = {"u1": 0x08, "i1": 0x09, ">i2": 0x0B, ">i4": 0x0C, ">f4": 0x0D, ">f8": 0x0E}[dtype]
    assert data[:16] == bytes([0, 0, code, 3]) + struct.pack(">III", 2, 3, 4)
    np.testing.assert_array_equal(im.read_idx(data), array)
    np.testing.assert_array_equal(im.read_idx(gzip.compress(data)), array)


def test_idx_rejects_truncated_and_malformed_files(tmp_path: Path) -> None:
    data = im.encode_idx(np.zeros((10, 28, 28), np.uint8))
    truncated = tmp_path / "short-idx3-ubyte.gz"
    truncated.write_bytes(gzip.compress(data[:-100]))
    with pytest.raises(ImageDataError, match=r"short-idx3-ubyte.gz: truncated.*7840 bytes.*7740"):
        im.read_idx(truncated)
    cut_stream = tmp_path / "cut.gz"
    cut_stream.write_bytes(gzip.compress(data)[:50])
    with pytest.raises(ImageDataError, match="cut.gz: gzip data is corrupt or truncated"):
        im.read_idx(cut_stream)
    with pytest.raises(ImageDataError, match="trailing bytes"):
        im.read_idx(data + b"\0", name="long")
    with pytest.raises(ImageDataError, match="0x89504e47 is not an idx header"):
        im.read_idx(b"\x89PNG" + data[4:], name="wrong.png")
    with pytest.raises(ImageDataError, match="too short"):
        im.read_idx(b"\0\0", name="x")


# --- PHOTOS200 -------------------------------------------------------------------------


def z_thumb(pixels: np.ndarray, box: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """An 8x8 RGB thumbnail, z-scored over all channels: blind to brightness and contrast."""
    image = Image.fromarray(pixels)
    thumb = np.asarray(image.resize((8, 8), Image.Resampling.BILINEAR, box=box), dtype=np.float64)
    return ((thumb - thumb.mean()) / (thumb.std() + 1e-9)).ravel()


def crop_thumbs(photo: np.ndarray) -> np.ndarray:
    """Thumbnails of a grid of axis-aligned crops (40-100% of the area, 3 aspects, flipped too)."""
    height, width = photo.shape[:2]
    thumbs = []
    for fraction in (0.4, 0.55, 0.7, 0.85, 1.0):
        for aspect in (0.75, 1.0, 4 / 3):
            w, h = np.sqrt(height * width * fraction * aspect), np.sqrt(height * width * fraction / aspect)
            if w > width or h > height:
                continue
            for fx in np.linspace(0, 1, 5):
                for fy in np.linspace(0, 1, 5):
                    x0, y0 = fx * (width - w), fy * (height - h)
                    thumb = z_thumb(photo, (x0, y0, x0 + w, y0 + h))
                    thumbs += [thumb, thumb.reshape(8, 8, 3)[:, ::-1].ravel()]
    return np.stack(thumbs)


def test_photos200_shape_and_honest_naming(photos: ImageSet) -> None:
    assert photos.images.shape == (200, 224, 224, 3) and photos.images.dtype == np.uint8
    assert np.bincount(photos.labels).tolist() == [20] * 10
    assert len(set(photos.class_names)) == 10 == len(im.PHOTO_SOURCES)
    assert "instance retrieval" in photos.name.lower()
    assert "not object categories" in photos.description
    assert all(s.license and s.credit and re.fullmatch(r"[0-9a-f]{64}", s.sha256) for s in im.PHOTO_SOURCES)


def test_photos200_each_class_is_views_of_its_own_photo(photos: ImageSet) -> None:
    """Every view's nearest axis-aligned crop (no rotation, no shared code) is of its own photo."""
    thumbs, owners = [], []
    for label, source in enumerate(im.PHOTO_SOURCES):
        photo = im.load_photo(source)
        photo = np.asarray(Image.fromarray(photo).reduce(max(1, min(photo.shape[:2]) // 96)))
        thumbs.append(crop_thumbs(photo))
        owners.append(np.full(len(thumbs[-1]), label))
    views = np.stack([z_thumb(view) for view in photos.images])
    nearest = np.concatenate(owners)[(views @ np.concatenate(thumbs).T).argmax(axis=1)]
    np.testing.assert_array_equal(nearest, photos.labels)


def test_photos200_views_differ_and_are_deterministic(photos: ImageSet) -> None:
    flat = photos.images[:, ::4, ::4].reshape(200, -1).astype(np.int16)  # every 4th pixel is plenty
    for label in range(10):
        views = flat[photos.by_class(label)]
        diffs = [np.abs(views[i] - views[j]).mean() for i in range(20) for j in range(i + 1, 20)]
        assert min(diffs) > 2, (photos.class_names[label], min(diffs))  # measured: 6 (rocket) to 45
    again = im.photos200.__wrapped__(0)  # recomputed, not the cached set
    assert again.fingerprint() == photos.fingerprint()
    photo = im.load_photo(im.PHOTO_SOURCES[1])
    one = im.augment_views(photo, 3, np.random.default_rng(0))
    np.testing.assert_array_equal(one, im.augment_views(photo, 3, np.random.default_rng(0)))
    assert not np.array_equal(one, im.augment_views(photo, 3, np.random.default_rng(1)))


def test_photos_are_the_pictures_their_loaders_return() -> None:
    skimage_data = pytest.importorskip("skimage.data")
    by_file = {s.file: s for s in im.PHOTO_SOURCES}
    np.testing.assert_array_equal(im.load_photo(by_file["astronaut.png"]), skimage_data.astronaut())
    camera = im.load_photo(by_file["camera.png"])
    np.testing.assert_array_equal(camera, np.repeat(skimage_data.camera()[..., None], 3, axis=-1))


# --- one image, and folders of them ----------------------------------------------------


def test_read_image_converts_modes() -> None:
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[:, :10] = (255, 0, 0, 255)  # opaque red
    rgba[:, 10:20] = (0, 0, 255, 0)  # transparent: hidden blue must not show
    rgba[:, 20:] = (0, 255, 0, 128)  # half-transparent green over white
    out = im.read_image(png_bytes(Image.fromarray(rgba, "RGBA")), name="rgba.png")
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8 and out.flags.writeable
    assert tuple(out[0, 0]) == (255, 0, 0) and tuple(out[0, 15]) == (255, 255, 255)
    blend = 255 * (1 - 128 / 255)
    np.testing.assert_allclose(out[0, 25], (blend, 255, blend), atol=1)

    gray = np.full((16, 24), 77, np.uint8)
    assert (im.read_image(png_bytes(Image.fromarray(gray, "L")), "l.png") == 77).all()

    palette = Image.new("P", (16, 16))
    palette.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    palette.paste(1, (0, 0, 8, 16))
    out = im.read_image(png_bytes(palette), "p.png")
    assert tuple(out[0, 0]) == (10, 200, 30) and tuple(out[0, 15]) == (0, 0, 0)

    deep = np.array([[0, 257 * 100, 65535, 1000]] * 16, dtype=np.uint16).repeat(4, axis=1)
    image16 = Image.fromarray(deep)
    assert image16.mode.startswith("I;16")
    out = im.read_image(png_bytes(image16), "deep.png")
    np.testing.assert_array_equal(out[0, ::4, 0], [0, 100, 255, round(1000 / 257)])


def test_read_image_applies_exif_orientation() -> None:
    raw = np.zeros((32, 64, 3), np.uint8)
    raw[:, :32] = (255, 0, 0)
    raw[:, 32:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    out = im.read_image(jpeg_bytes(Image.fromarray(raw), exif=exif.tobytes()), "phone.jpg")
    assert out.shape == (64, 32, 3)
    assert np.abs(out.astype(int) - np.rot90(raw, k=-1)).mean() < 5  # the left (red) half is now on top
    assert out[5, 16, 0] > 200 and out[60, 16, 2] > 200


def test_fit_image_centre_crops_instead_of_squashing() -> None:
    wide = np.zeros((50, 100, 3), np.uint8)
    wide[:, :25] = (0, 0, 255)
    wide[:, 25:75] = (255, 0, 0)
    wide[:, 75:] = (0, 255, 0)
    out = im.fit_image(wide, (32, 32))
    assert out.shape == (32, 32, 3)
    # only the red middle remains (the filter blends a pixel of the cut-off borders into the edge
    # columns); squashing would keep a quarter of blue and of green
    assert out[:, 1:-1, 0].min() > 240 and out[:, 1:-1, 1:].max() < 15
    assert out[..., 0].mean() > 240 and out[..., 1:].mean() < 10


@pytest.fixture
def good_tree(tmp_path: Path) -> Path:
    root = tmp_path / "pets"
    (root / "dogs").mkdir(parents=True)
    (root / "cats").mkdir()
    (root / ".hidden_class").mkdir()
    (root / "__MACOSX").mkdir()
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (40, 60, 4), np.uint8)
    (root / "cats" / "a.png").write_bytes(png_bytes(Image.fromarray(noise, "RGBA")))
    (root / "cats" / "b.png").write_bytes(png_bytes(Image.fromarray(np.full((90, 30), 9, np.uint8))))
    (root / "cats" / "c.png").write_bytes(png_bytes(Image.fromarray(np.full((20, 20), 5000, np.uint16))))
    (root / "dogs" / "d.gif").write_bytes(png_bytes(Image.new("P", (33, 17))))
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = jpeg_bytes(Image.new("RGB", (64, 32), (200, 10, 10)), exif=exif.tobytes())
    (root / "dogs" / "e.jpg").write_bytes(rotated)
    for hidden in (root / ".DS_Store", root / "cats" / ".DS_Store", root / "dogs" / "._e.jpg"):
        hidden.write_bytes(b"\0\5Bud1 not an image")
    return root


def test_load_folder_reads_mixed_images_and_skips_hidden_files(good_tree: Path) -> None:
    data = im.load_folder(good_tree, image_size=(24, 32))
    assert data.class_names == ("cats", "dogs")
    assert data.images.shape == (5, 24, 32, 3) and data.labels.tolist() == [0, 0, 0, 1, 1]
    assert (data.images[1] == 9).all() and (data.images[2] == round(5000 / 257)).all()
    assert data.name == "pets" and "one subfolder per class" in data.description
    assert im.load_folder(good_tree, image_size=(24, 32), max_per_class=1).labels.tolist() == [0, 1]


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("broken.jpg", "truncated-jpeg", "corrupt or truncated"),
        ("noise.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "not an image|corrupt"),
        ("notes.txt", b"these are my cat pictures\n", "not an image file"),
        ("tiny.png", "tiny", "too small"),
        ("bomb.png", png_header_only(8000, 6000), "48.0 megapixels"),
        ("empty.jpg", b"", "empty file"),
    ],
)
def test_load_folder_names_the_bad_file(good_tree: Path, file: str, content: object, message: str) -> None:
    if content == "truncated-jpeg":
        noise = np.random.default_rng(1).integers(0, 255, (64, 64, 3), np.uint8)
        content = jpeg_bytes(Image.fromarray(noise))[:600]
    elif content == "tiny":
        content = png_bytes(Image.new("RGB", (10, 40)))
    bad = good_tree / "dogs" / file
    bad.write_bytes(content)  # type: ignore[arg-type]
    with pytest.raises(ImageDataError, match=message) as caught:
        im.load_folder(good_tree, image_size=(24, 32))
    assert str(bad) in str(caught.value)
    with pytest.raises(ImageDataError, match=re.escape(file)):
        im.read_image(bad.read_bytes(), name=file)


def test_load_folder_layout_errors(tmp_path: Path, good_tree: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImageDataError, match=f"{re.escape(str(empty))}: empty folder"):
        im.load_folder(empty)
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "cat.png").write_bytes(png_bytes(Image.new("RGB", (20, 20))))
    with pytest.raises(ImageDataError, match=f"{re.escape(str(flat))}: no class subfolders.*cat.png"):
        im.load_folder(flat)
    (good_tree / "birds").mkdir()
    (good_tree / "birds" / ".DS_Store").write_bytes(b"x")
    birds = re.escape(str(good_tree / "birds"))
    with pytest.raises(ImageDataError, match=f"{birds}: class folder with no images"):
        im.load_folder(good_tree)
    (good_tree / "birds" / "more").mkdir()
    with pytest.raises(ImageDataError, match="birds.more: a folder inside the class folder"):
        im.load_folder(good_tree)
    with pytest.raises(ImageDataError, match="not a folder"):
        im.load_folder(tmp_path / "missing")


# --- online loaders, run offline on stand-ins ------------------------------------------


def test_cifar10_subset_picks_per_class(monkeypatch: pytest.MonkeyPatch) -> None:
    labels = np.tile(np.arange(10), 30).reshape(-1, 1).astype(np.uint8)
    pixels = np.zeros((300, 32, 32, 3), np.uint8)
    pixels[:, 0, 0, 0], pixels[:, 0, 0, 1] = np.arange(300) % 256, np.arange(300) // 256  # each image's index
    fake = types.SimpleNamespace(datasets=types.SimpleNamespace(cifar10=types.SimpleNamespace(
        load_data=lambda: ((None, None), (pixels, labels)))))
    monkeypatch.setitem(sys.modules, "tf_keras", fake)
    data = im.load_cifar10_subset(per_class=3, seed=0)
    assert data.images.shape == (30, 32, 32, 3) and np.bincount(data.labels).tolist() == [3] * 10
    original_index = data.images[:, 0, 0, 0] + 256 * data.images[:, 0, 0, 1].astype(int)
    np.testing.assert_array_equal(labels[original_index, 0], data.labels)  # each image keeps its label
    assert data.class_names[0] == "airplane" and data.name == "CIFAR10-30"


def test_tinyimagenet_subset_reads_a_cached_archive(tmp_path: Path) -> None:
    wnids = ["n01443537", "n01629819", "n01641577"]
    words = {"n01443537": "goldfish, Carassius auratus", "n01629819": "European fire salamander",
             "n01641577": "bullfrog, Rana catesbeiana"}
    with zipfile.ZipFile(tmp_path / "tiny-imagenet-200.zip", "w") as archive:
        archive.writestr("tiny-imagenet-200/wnids.txt", "\n".join(wnids) + "\n")
        archive.writestr("tiny-imagenet-200/words.txt", "".join(f"{w}\t{n}\n" for w, n in words.items()))
        for k, wnid in enumerate(wnids):
            for i in range(4):
                mode = "L" if i == 0 else "RGB"
                image = Image.new(mode, (64, 64), 60 * k if mode == "L" else (60 * k, 0, 0))
                archive.writestr(f"tiny-imagenet-200/train/{wnid}/images/{wnid}_{i}.JPEG", jpeg_bytes(image))
    data = im.load_tinyimagenet_subset(n_classes=2, per_class=3, seed=0, cache_dir=tmp_path)
    assert data.images.shape == (6, 64, 64, 3) and data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert set(data.class_names) <= {"goldfish", "European fire salamander", "bullfrog"}
    chosen = [wnids[[words[w].split(",")[0] for w in wnids].index(n)] for n in data.class_names]
    for label, wnid in enumerate(chosen):  # pixels match their class's red level
        np.testing.assert_allclose(data.images[data.labels == label][..., 0], 60 * wnids.index(wnid), atol=3)


# --- the registry ----------------------------------------------------------------------


def test_registry(fashion: ImageSet) -> None:
    assert set(im.OFFLINE_SETS) == {"FASHION200", "PHOTOS200"}
    assert set(im.IMAGE_SETS) == {"FASHION200", "PHOTOS200", "CIFAR10-200", "TINYIMAGENET-200"}
    assert im.load_image_set("fashion200") is fashion
    with pytest.raises(ValueError, match=r"unknown image set 'MNIST'.*FASHION200, PHOTOS200, CIFAR10-200"):
        im.load_image_set("MNIST")


def test_provenance_hashes_are_the_files_hashes() -> None:
    """PROVENANCE.json's sha256 values are the committed files' (computed here with hashlib)."""
    provenance = json.loads((im.fashion200_dir() / "PROVENANCE.json").read_text())
    for entry in provenance["files"]:
        data = (im.fashion200_dir() / entry["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert hashlib.sha256(gzip.decompress(data)).hexdigest() == entry["sha256_uncompressed"]


def test_read_image_names_a_folder_and_image_sets_refuse_in_the_bad_input_family(tmp_path: Path) -> None:
    """A folder given as an image was "no such file"; an unknown set and a failed download
    were a plain ValueError / OSError, which the CLI showed as a traceback."""
    from browserml.errors import BadInput

    (tmp_path / "shots.jpg").mkdir()
    with pytest.raises(ImageDataError, match="shots.jpg: a folder, not an image file"):
        im.read_image(tmp_path / "shots.jpg")
    with pytest.raises(BadInput, match="unknown image set 'MNIST'"):
        im.load_image_set("MNIST")
    with pytest.raises(BadInput, match=r"could not download http://127\.0\.0\.1:9/x\.zip .*the offline sets are "
                                       r"FASHION200, PHOTOS200"):
        im._download_file("http://127.0.0.1:9/x.zip", tmp_path / "x.zip", check=lambda p: None)
    assert list(tmp_path.iterdir()) == [tmp_path / "shots.jpg"], "the partial download is removed"
