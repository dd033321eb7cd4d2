"""Give freed memory back to the operating system, so a small kernel keeps its room.

Binder kills a kernel past 2 GB, and TensorFlow alone takes about 0.6 GB of it. A Keras
pass over a batch of images allocates and frees hundreds of MB of activations; glibc's
malloc keeps most of that in its heaps after the arrays die, so the kernel's resident
memory only ever grows, and the next heavy cell (UMAP, the 70,000-image index) stacks
its own peak on top. :func:`release` collects garbage and asks glibc to return free
heap pages (``malloc_trim``). It is a no-op where there is no glibc (macOS, musl), and
never changes a result.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
from collections.abc import Callable


@functools.lru_cache(maxsize=2)
def _libc_function(name: str) -> Callable[..., int] | None:
    """glibc's ``name`` (``malloc_trim``, ``mallopt``), or None without glibc."""
    library = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(library), name) if library else None
    except (OSError, AttributeError):
        return None


def release() -> bool:
    """Collect garbage and hand free heap memory back; True when glibc took it back."""
    gc.collect()
    trim = _libc_function("malloc_trim")
    return bool(trim(0)) if trim is not None else False


M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas, as ``MALLOC_ARENA_MAX`` would, unless the user set that.

    glibc gives each thread that allocates its own heap arena (up to 8 per core), and
    TensorFlow's thread pools allocate from many threads, so freed memory is scattered
    over arenas that are rarely returned. Two arenas cost nothing measurable on a
    notebook's few cores and lowered lesson 3's peak kernel memory by about 0.1 GB.
    Must run before TensorFlow starts its threads; a no-op without glibc."""
    import os

    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    mallopt = _libc_function("mallopt")
    return bool(mallopt(M_ARENA_MAX, arenas)) if mallopt is not None else False
