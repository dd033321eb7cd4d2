"""Lesson 3's images: the small sets ConvNet Playground searches, and any folder of yours.

ConvNet Playground lets a learner pick one of a few 200-image sets (10 classes x 20),
embeds every image with one layer of a CNN and shows the nearest neighbours. This
module provides the images, always as an :class:`ImageSet` (uint8 RGB, int64 labels,
class names, an honest description and the provenance), from four places:

- **FASHION200** (offline, committed): the first 20 images of each class of the
  Fashion-MNIST test set, stored under ``datasets/fashion200`` in Fashion-MNIST's own
  idx format and checked against ``PROVENANCE.json`` before use. :func:`build_fashion200`
  rebuilds the folder from Debian's ``dataset-fashion-mnist``, with identical content.
  :func:`fashion_mnist` reads all 70,000 images from that package.
- **PHOTOS200** (offline, generated): 10 photographs that ship inside the scikit-image
  and scikit-learn wheels, each expanded into 20 seeded random views. A class is
  "which photo", so this is *instance retrieval*, not object categories; the set says
  so in its name and description.
- **any folder** (:func:`load_folder`): one subfolder per class, the lesson's "bring
  your own images"; :func:`read_image` is the one decoder for files and uploads alike.
- **online** sets (CIFAR-10, Tiny ImageNet, Fashion-MNIST through ``tf_keras``), which
  download only when called; no default code path calls them, and the tests point them
  at a stand-in server on 127.0.0.1 (``tests/test_data_downloads.py``).

The package's modules, by role: :mod:`.decode` (one image, :class:`ImageDataError`),
:mod:`.imageset` (:class:`ImageSet`), :mod:`.folders` (any folder), :mod:`.idx` (the idx
format and the full Fashion-MNIST), :mod:`.photos` (PHOTOS200) and :mod:`.sets` (FASHION200,
the online sets, their downloads and the registry). Every name is re-exported here; a test
that patches a module constant (``TINYIMAGENET_URL``, ``DOWNLOAD_TIMEOUT_S``) patches it on
the module that reads it, :mod:`browserml.data.images.sets`.
"""

from __future__ import annotations

from browserml.data.images.decode import (
    DEFAULT_IMAGE_SIZE,
    MAX_PIXELS,
    MIN_SIDE,
    ImageDataError,
    ImageSource,
    fit_image,
    read_image,
    to_rgb,
)
from browserml.data.images.folders import (
    load_folder,
)
from browserml.data.images.idx import (
    DEBIAN_FASHION_MNIST_DIR,
    DEBIAN_PACKAGE,
    FASHION_CLASS_NAMES,
    FASHION_LICENSE,
    FASHION_MNIST_FILES,
    FASHION_MNIST_SHA256,
    FASHION_REFERENCE,
    FashionSplit,
    encode_idx,
    fashion_mnist,
    fashion_mnist_anywhere,
    load_fashion_mnist_online,
    read_idx,
)
from browserml.data.images.imageset import (
    ImageSet,
)
from browserml.data.images.photos import (
    CROP_AREA,
    CROP_ASPECT,
    JITTER,
    MAX_ROTATION_DEG,
    PHOTO_SOURCES,
    PHOTO_VIEW_SIZE,
    PHOTO_WORKING_SIDE,
    PHOTOS_PER_CLASS,
    PhotoSource,
    augment_views,
    load_photo,
    photos200,
)
from browserml.data.images.sets import (
    CIFAR10_CLASS_NAMES,
    DOWNLOAD_TIMEOUT_S,
    FASHION200_DIR_NAME,
    FASHION200_FILES,
    FASHION200_PER_CLASS,
    IMAGE_SETS,
    OFFLINE_SETS,
    TINYIMAGENET_URL,
    _download_file,
    build_fashion200,
    fashion200,
    fashion200_dir,
    first_per_class,
    load_cifar10_subset,
    load_image_set,
    load_tinyimagenet_subset,
)

__all__ = [
    "CIFAR10_CLASS_NAMES",
    "CROP_AREA",
    "CROP_ASPECT",
    "DEBIAN_FASHION_MNIST_DIR",
    "DEBIAN_PACKAGE",
    "DEFAULT_IMAGE_SIZE",
    "DOWNLOAD_TIMEOUT_S",
    "FASHION200_DIR_NAME",
    "FASHION200_FILES",
    "FASHION200_PER_CLASS",
    "FASHION_CLASS_NAMES",
    "FASHION_LICENSE",
    "FASHION_MNIST_FILES",
    "FASHION_MNIST_SHA256",
    "FASHION_REFERENCE",
    "IMAGE_SETS",
    "JITTER",
    "MAX_PIXELS",
    "MAX_ROTATION_DEG",
    "MIN_SIDE",
    "OFFLINE_SETS",
    "PHOTOS_PER_CLASS",
    "PHOTO_SOURCES",
    "PHOTO_VIEW_SIZE",
    "PHOTO_WORKING_SIDE",
    "TINYIMAGENET_URL",
    "FashionSplit",
    "ImageDataError",
    "ImageSet",
    "ImageSource",
    "PhotoSource",
    "_download_file",
    "augment_views",
    "build_fashion200",
    "encode_idx",
    "fashion200",
    "fashion200_dir",
    "fashion_mnist",
    "fashion_mnist_anywhere",
    "first_per_class",
    "fit_image",
    "load_cifar10_subset",
    "load_fashion_mnist_online",
    "load_folder",
    "load_image_set",
    "load_photo",
    "load_tinyimagenet_subset",
    "photos200",
    "read_idx",
    "read_image",
    "to_rgb",
]
