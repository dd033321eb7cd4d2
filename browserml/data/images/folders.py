"""Any folder of images as a set: one subfolder per class (:func:`load_folder`), the lesson's
"bring your own images".
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from browserml.data.images.decode import DEFAULT_IMAGE_SIZE, ImageDataError, _check_image_size, fit_image, read_image
from browserml.data.images.imageset import ImageSet

# --- any folder of images --------------------------------------------------------------

_IGNORED_FOLDERS = frozenset({"__MACOSX"})  # macOS zip resource forks, never a class


def _is_hidden(path: Path) -> bool:
    """Dot files (``.DS_Store``, ``._photo.jpg``, ``.ipynb_checkpoints``) and macOS zip debris."""
    return path.name.startswith(".") or path.name in _IGNORED_FOLDERS


def load_folder(
    path: str | os.PathLike[str],
    image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE,
    max_per_class: int | None = None,
) -> ImageSet:
    """Every image under ``path/<class name>/``, as one :class:`ImageSet`.

    Class names are the sorted subfolder names, label ``k`` the ``k``-th of them. Each
    image goes through :func:`read_image` and :func:`fit_image` (centre crop to the
    aspect of ``image_size`` = (height, width), then resize), so sets of mixed sizes
    stack into one array. ``max_per_class`` keeps the first images of each class in
    file-name order. Hidden files are skipped; any other file that is not an image, an
    empty class or a folder without class subfolders raises :class:`ImageDataError`
    naming it, because a silently skipped image changes what the search finds.
    """
    folder = Path(path)
    height, width = _check_image_size(image_size)
    if max_per_class is not None and (
        isinstance(max_per_class, bool)
        or not isinstance(max_per_class, (int, np.integer))
        or max_per_class < 1
    ):
        raise ValueError(f"max_per_class must be a positive int or None, got {max_per_class!r}")
    if not folder.is_dir():
        raise ImageDataError(f"{folder}: not a folder")
    entries = sorted((p for p in folder.iterdir() if not _is_hidden(p)), key=lambda p: p.name)
    class_dirs = [p for p in entries if p.is_dir()]
    if not entries:
        raise ImageDataError(
            f"{folder}: empty folder; put each class's images in a subfolder named after the class"
        )
    if not class_dirs:
        found = ", ".join(p.name for p in entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise ImageDataError(
            f"{folder}: no class subfolders (found {found}); put each class's images in a "
            "subfolder named after the class, e.g. cats/1.jpg, dogs/1.jpg"
        )
    images: list[np.ndarray] = []
    labels: list[int] = []
    for label, class_dir in enumerate(class_dirs):
        files = _class_files(class_dir)
        for file in files[:max_per_class]:
            images.append(fit_image(read_image(file, name=str(file)), (height, width)))
            labels.append(label)
    return ImageSet(
        name=folder.resolve().name or str(folder),
        images=np.stack(images),
        labels=np.asarray(labels, dtype=np.int64),
        class_names=tuple(p.name for p in class_dirs),
        description=(
            f"{len(images)} images in {len(class_dirs)} classes from the folder {folder}, one subfolder "
            f"per class, each centre-cropped to a {height}:{width} aspect and resized to {height}x{width}."
        ),
        source=f"local folder {folder.resolve()}",
    )


def _class_files(class_dir: Path) -> list[Path]:
    files = sorted((p for p in class_dir.iterdir() if not _is_hidden(p)), key=lambda p: p.name)
    nested = [p for p in files if p.is_dir()]
    if nested:
        raise ImageDataError(
            f"{nested[0]}: a folder inside the class folder {class_dir.name}; images must sit directly in "
            "their class folder (nested folders are not read)"
        )
    if not files:
        raise ImageDataError(f"{class_dir}: class folder with no images")
    return files
