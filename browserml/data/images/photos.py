"""PHOTOS200: seeded random views of 10 photographs that ship inside the scikit-image and
scikit-learn wheels (:data:`PHOTO_SOURCES`, :func:`augment_views`, :func:`photos200`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from browserml.data.images.decode import ImageDataError, read_image
from browserml.data.images.imageset import ImageSet

# --- PHOTOS200: views of 10 photographs ------------------------------------------------


@dataclass(frozen=True)
class PhotoSource:
    """One photograph inside an installed wheel, with what its package says about it."""

    class_name: str
    module: str  # the package folder holding the file
    file: str
    loader: str  # the public function that returns the same picture
    sha256: str  # of the file as shipped; a different file would change every view
    credit: str
    license: str


_SKIMAGE = "scikit-image 0.26.0 wheel; license as its loader's docstring states (skimage/data/_fetchers.py)"
_SKLEARN = "scikit-learn 1.9.1 wheel; license as sklearn/datasets/images/README.txt states"

PHOTO_SOURCES: tuple[PhotoSource, ...] = (
    PhotoSource(
        "astronaut", "skimage.data", "astronaut.png", "skimage.data.astronaut()",
        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
        "Eileen Collins, NASA Great Images database",
        f"public domain (no known copyright restrictions); {_SKIMAGE}",
    ),
    PhotoSource(
        "cat", "skimage.data", "chelsea.png", "skimage.data.chelsea()",
        "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
        "Chelsea the cat, photo by Stefan van der Walt", f"CC0; {_SKIMAGE}",
    ),
    PhotoSource(
        "coffee cup", "skimage.data", "coffee.png", "skimage.data.coffee()",
        "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
        "photo by Rachel Michetti, courtesy of Pikolo Espresso Bar", f"CC0; {_SKIMAGE}",
    ),
    PhotoSource(
        "rocket launch", "skimage.data", "rocket.jpg", "skimage.data.rocket()",
        "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
        "Falcon 9 launching DSCOVR, SpaceX Photos", f"public domain (released by SpaceX); {_SKIMAGE}",
    ),
    PhotoSource(
        "Hubble deep field", "skimage.data", "hubble_deep_field.jpg", "skimage.data.hubble_deep_field()",
        "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4",
        "Hubble eXtreme Deep Field, NASA (HubbleSite)", f"public domain (NASA media guidelines); {_SKIMAGE}",
    ),
    PhotoSource(
        "retina", "skimage.data", "retina.jpg", "skimage.data.retina()",
        "38a07f36f27f095e818aea7b96d34202c05176d30253c66733f2e00379e9e0e6",
        "fundus photograph of a normal left eye, Mikael Haggstrom, Wikimedia Commons",
        f"CC0 1.0; {_SKIMAGE}",
    ),
    PhotoSource(
        "cameraman", "skimage.data", "camera.png", "skimage.data.camera()",
        "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
        "grayscale photo by Lav Varshney", f"CC0; {_SKIMAGE}",
    ),
    PhotoSource(
        "brick wall", "skimage.data", "brick.png", "skimage.data.brick()",
        "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf",
        "grayscale texture from CC0Textures (Bricks25), warped and cropped by scikit-image",
        f"CC0; {_SKIMAGE}",
    ),
    PhotoSource(
        "pagoda", "sklearn.datasets.images", "china.jpg", "sklearn.datasets.load_sample_image('china.jpg')",
        "8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29",
        "Flickr user danielbuechele (photo 6061409035), retrieved by Robert Layton",
        f"CC BY 2.0, attribution danielbuechele; {_SKLEARN}",
    ),
    PhotoSource(
        "flower", "sklearn.datasets.images", "flower.jpg", "sklearn.datasets.load_sample_image('flower.jpg')",
        "a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638",
        "Flickr user vultilion (photo 6056698931), retrieved by Robert Layton",
        f"CC BY 2.0 (the README's attribution line says danielbuechele, its links vultilion); {_SKLEARN}",
    ),
)
PHOTOS_PER_CLASS = 20
PHOTO_VIEW_SIZE = 224
PHOTO_WORKING_SIDE = 256  # photos are first downscaled (antialiased) so their shorter side is this
CROP_AREA = (0.4, 1.0)  # fraction of the photo's area a view covers
CROP_ASPECT = (3 / 4, 4 / 3)
MAX_ROTATION_DEG = 15.0
JITTER = (0.75, 1.25)  # brightness and contrast factors


def load_photo(source: PhotoSource) -> np.ndarray:
    """The photograph as uint8 RGB, read from the installed wheel (never downloaded).

    The file is read directly, not through ``skimage.data``'s fetcher, so nothing can
    reach for the network, and found without importing its package (importing
    scikit-learn alone takes over a second). Its sha256 must match
    :attr:`PhotoSource.sha256`, since a different file would silently give different views.
    """
    package, *subpackages = source.module.split(".")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ImageDataError(f"{source.module}/{source.file}: the package {package} is not installed")
    path = Path(next(iter(spec.submodule_search_locations)), *subpackages, source.file)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ImageDataError(f"{path}: cannot be read ({err})") from err
    actual = hashlib.sha256(data).hexdigest()
    if actual != source.sha256:
        raise ImageDataError(
            f"{path}: sha256 is {actual}, PHOTO_SOURCES records {source.sha256}; a different "
            "scikit-image/scikit-learn release ships a different file (see requirements.lock)"
        )
    return read_image(data, name=f"{source.module}/{source.file}")


def augment_views(
    photo: np.ndarray, n_views: int, rng: np.random.Generator, size: int = PHOTO_VIEW_SIZE
) -> np.ndarray:
    """``n_views`` random views of one photo, uint8 ``[n_views, size, size, 3]``.

    Each view is a random resized crop (covering :data:`CROP_AREA` of the photo, aspect
    in :data:`CROP_ASPECT`, stretched to a square as torchvision's RandomResizedCrop
    does), a horizontal flip half the time, a rotation within ±:data:`MAX_ROTATION_DEG`
    about the crop's centre, and brightness and contrast factors in :data:`JITTER`.
    Crop, flip and rotation are one affine map, so each view is resampled only once
    (bilinear); the photo is mirror-padded first so rotated corners show reflected
    photo, not black triangles a CNN could key on.
    """
    height, width = photo.shape[:2]
    pad_y, pad_x = height // 2, width // 2  # a rotated full crop reaches past the edge by less
    padded = Image.fromarray(np.pad(photo, ((pad_y, pad_y), (pad_x, pad_x), (0, 0)), mode="reflect"))
    views = np.empty((n_views, size, size, 3), dtype=np.uint8)
    for k in range(n_views):
        matrix = _view_matrix(height, width, size, rng)
        matrix = np.array([[1, 0, pad_x], [0, 1, pad_y], [0, 0, 1]]) @ matrix
        view = padded.transform(
            (size, size), Image.Transform.AFFINE, tuple(matrix[:2].ravel()),
            resample=Image.Resampling.BILINEAR,
        )
        brightness, contrast = rng.uniform(*JITTER, size=2)
        pixels = np.asarray(view, dtype=np.float32)
        mean = pixels.mean()
        views[k] = np.rint(np.clip(((pixels - mean) * contrast + mean) * brightness, 0, 255)).astype(np.uint8)
    return views


def _view_matrix(height: int, width: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """The 3x3 map from a view's continuous (x, y) to the photo's, for one random view.

    Continuous coordinates: pixel ``(i, j)`` covers ``[j, j+1) x [i, i+1)``, as in
    Pillow's ``Image.transform``.
    """
    crop_w, crop_h = _random_crop_size(height, width, rng)
    center_x = rng.uniform(crop_w / 2, width - crop_w / 2)
    center_y = rng.uniform(crop_h / 2, height - crop_h / 2)
    flip = -1.0 if rng.random() < 0.5 else 1.0
    angle = math.radians(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG))
    # view (x, y) -> [-0.5, 0.5]^2, flipped -> crop size -> rotated -> photo (x, y)
    to_unit = np.array([[flip / size, 0, -flip / 2], [0, 1 / size, -0.5], [0, 0, 1]])
    scale = np.diag([crop_w, crop_h, 1.0])
    cos, sin = math.cos(angle), math.sin(angle)
    rotate = np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]])
    place = np.array([[1, 0, center_x], [0, 1, center_y], [0, 0, 1]])
    return place @ rotate @ scale @ to_unit


def _random_crop_size(height: int, width: int, rng: np.random.Generator) -> tuple[float, float]:
    """(width, height) of a crop of :data:`CROP_AREA` of the area with aspect in :data:`CROP_ASPECT`.

    Rejection sampling as in torchvision: draws that do not fit are redrawn; after 10
    misses, the largest crop with an allowed aspect is used.
    """
    area = height * width
    log_low, log_high = math.log(CROP_ASPECT[0]), math.log(CROP_ASPECT[1])
    for _ in range(10):
        target = area * rng.uniform(*CROP_AREA)
        aspect = math.exp(rng.uniform(log_low, log_high))
        crop_w, crop_h = math.sqrt(target * aspect), math.sqrt(target / aspect)
        if crop_w <= width and crop_h <= height:
            return crop_w, crop_h
    aspect = min(max(width / height, CROP_ASPECT[0]), CROP_ASPECT[1])
    return min(width, height * aspect), min(height, width / aspect)


def _working_copy(photo: np.ndarray) -> np.ndarray:
    """Downscale (antialiased) so the shorter side is :data:`PHOTO_WORKING_SIDE`.

    Views are then resampled by less than 2x either way, where bilinear sampling does
    not visibly alias.
    """
    height, width = photo.shape[:2]
    factor = PHOTO_WORKING_SIDE / min(height, width)
    if factor >= 1:
        return photo
    size = (round(width * factor), round(height * factor))
    return np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.LANCZOS))


@functools.lru_cache(maxsize=4)
def photos200(seed: int = 0) -> ImageSet:
    """PHOTOS200: 20 random views of each of 10 photographs, 224x224; class = which photo.

    The same ``seed`` gives the same pixels (on the same library versions). This is an
    *instance retrieval* set: a good search returns other views of the query's photo,
    which says nothing about recognising object categories.
    """
    rng = np.random.default_rng(seed)
    views = [augment_views(_working_copy(load_photo(s)), PHOTOS_PER_CLASS, rng) for s in PHOTO_SOURCES]
    labels = np.repeat(np.arange(len(PHOTO_SOURCES), dtype=np.int64), PHOTOS_PER_CLASS)
    return ImageSet(
        name="PHOTOS200 (instance retrieval)",
        images=np.concatenate(views),
        labels=labels,
        class_names=tuple(s.class_name for s in PHOTO_SOURCES),
        description=(
            "Instance retrieval, not object categories: each class is 20 random views (crop, flip, rotation, "
            "brightness and contrast) of one of 10 photographs shipped in the scikit-image and scikit-learn "
            "wheels, so a match means 'a view of the same photo'."
        ),
        source=(
            f"PHOTO_SOURCES in browserml.data.images (files in the installed wheels, sha256-checked; public "
            f"domain, CC0 and CC BY 2.0), views made with seed {seed}"
        ),
    )
