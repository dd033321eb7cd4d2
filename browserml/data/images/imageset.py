"""The :class:`ImageSet`: images, labels, class names, description and provenance, read-only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from browserml.data.images.decode import ImageDataError, _frozen

# --- the image set ---------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ImageSet:
    """Images and their labels: ``images`` uint8 ``[n, h, w, 3]`` RGB, ``labels`` int64 ``[n]``.

    Label ``k`` names ``class_names[k]``. Both arrays are stored read-only (a writeable
    input is copied first), so no caller can change a set under the feature cache that
    keys on :meth:`fingerprint`; grayscale sources are repeated to 3 channels because every
    backbone in the lesson expects RGB. ``description`` is one sentence saying what a
    class means and where the pixels came from; ``source`` is the provenance summary.
    ``eq=False`` because element-wise array comparison has no single truth value: two
    sets are the same data when their fingerprints are equal.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    description: str
    source: str
    _fingerprint: list[str] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ImageDataError(f"ImageSet.name must be a non-empty string, got {self.name!r}")
        images, labels = self.images, self.labels
        if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
            kind = images.dtype if isinstance(images, np.ndarray) else type(images).__name__
            raise ImageDataError(f"{self.name}: images must be a uint8 array, got {kind}")
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ImageDataError(
                f"{self.name}: images must have shape [n, h, w, 3] (RGB), got {images.shape}"
            )
        labels = np.asarray(labels)
        if labels.size and not np.issubdtype(labels.dtype, np.integer):
            raise ImageDataError(f"{self.name}: labels must be integers, got dtype {labels.dtype}")
        if labels.shape != (images.shape[0],):
            raise ImageDataError(
                f"{self.name}: labels must hold one label per image, "
                f"shape [{images.shape[0]}], got {labels.shape}"
            )
        names = tuple(self.class_names)
        if not names or not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
            raise ImageDataError(
                f"{self.name}: class_names must be distinct non-empty strings, got {names!r}"
            )
        labels = labels.astype(np.int64)
        bad = (labels < 0) | (labels >= len(names))
        if bad.any():
            raise ImageDataError(
                f"{self.name}: label {labels[bad][0]} at index {int(np.flatnonzero(bad)[0])} "
                f"is not in 0..{len(names) - 1} ({len(names)} class names)"
            )
        object.__setattr__(self, "images", _frozen(images))
        object.__setattr__(self, "labels", _frozen(labels))
        object.__setattr__(self, "class_names", names)

    def __repr__(self) -> str:  # 30 MB of pixels make a useless notebook repr
        h, w = self.images.shape[1:3]
        return f"ImageSet({self.name!r}, n={len(self)}, size={h}x{w}, classes={len(self.class_names)})"

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, indices: np.ndarray | Sequence[int] | Sequence[bool]) -> ImageSet:
        """The images picked by integer indices (any order, repeats allowed) or a bool mask.

        Class names stay the same, so labels keep their meaning across subsets.
        """
        index = np.asarray(indices)
        if index.ndim != 1:
            raise ValueError(f"subset takes a 1-D index array or mask, got shape {index.shape}")
        if index.dtype == bool:
            if index.shape[0] != len(self):
                raise ValueError(f"a bool mask needs one entry per image ({len(self)}), got {index.shape[0]}")
        elif index.size == 0:
            index = index.astype(np.intp)
        elif not np.issubdtype(index.dtype, np.integer):
            raise TypeError(f"subset takes integer indices or a bool mask, got dtype {index.dtype}")
        return ImageSet(
            self.name, self.images[index], self.labels[index], self.class_names, self.description, self.source
        )

    def by_class(self, label: int) -> np.ndarray:
        """The indices of the images labelled ``label``, in order."""
        if not 0 <= int(label) < len(self.class_names):
            raise ValueError(f"{self.name}: label must be in 0..{len(self.class_names) - 1}, got {label!r}")
        return np.flatnonzero(self.labels == int(label))

    def fingerprint(self) -> str:
        """A sha256 of the pixels, their shape, the labels and the class names.

        Feature caches key on it: the same pixels and labels give the same key whatever
        the set is called, and any changed pixel gives a new one. Computed once per set
        (the arrays are read-only, so it cannot go stale).
        """
        if not self._fingerprint:
            digest = hashlib.sha256(b"browserml.ImageSet/v1\0")
            digest.update(np.asarray(self.images.shape, dtype="<i8").tobytes())
            digest.update(np.ascontiguousarray(self.images).data.cast("B"))
            digest.update(self.labels.astype("<i8").tobytes())
            digest.update("\0".join(self.class_names).encode("utf-8"))
            self._fingerprint.append(digest.hexdigest())
        return self._fingerprint[0]
