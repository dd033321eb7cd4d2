"""A small thread-safe LRU dict for the apps' states: a background job and the kernel
both read it, and its newest ``size`` entries stay so big matrices do not pile up."""

from __future__ import annotations

import collections
import threading
from collections.abc import Hashable
from typing import Any


class LruMemo:
    """``get`` (``None`` when absent), ``put`` (returns the value) and ``in``, under one lock."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data: collections.OrderedDict[Hashable, Any] = collections.OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self.lock:
            if key not in self.data:
                return None
            self.data.move_to_end(key)
            return self.data[key]

    def put(self, key: Hashable, value: Any) -> Any:
        with self.lock:
            self.data[key] = value
            while len(self.data) > self.size:
                self.data.popitem(last=False)
        return value

    def __contains__(self, key: Hashable) -> bool:
        with self.lock:
            return key in self.data
