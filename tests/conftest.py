"""Shared fixtures, and the offline guard: no test may reach past loopback.

`make test` also runs the suite in a network namespace with only loopback up (where
the OS allows it); this in-process guard makes the rule hold everywhere else too, and
names the culprit when a test tries to download something.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import numpy as np
import pytest

import browserml  # noqa: F401  (selects tf_keras before TensorFlow loads)

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address):  # type: ignore[no-untyped-def]
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            ok = ipaddress.ip_address(host).is_loopback
        except ValueError:
            ok = host == "localhost"
        if not ok:
            raise OSError(f"browserml tests are offline: connection to {address!r} refused by tests/conftest.py")
    return _real_connect(self, address)


@pytest.fixture(autouse=True, scope="session")
def offline() -> None:
    socket.socket.connect = _loopback_only  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def dense_model():
    """A small tf_keras MLP with fixed weights (4 -> 8 relu -> 3)."""
    import tf_keras

    tf_keras.utils.set_random_seed(0)
    inp = tf_keras.Input((4,), name="features")
    hidden = tf_keras.layers.Dense(8, activation="relu", name="hidden")(inp)
    out = tf_keras.layers.Dense(3, name="scores")(hidden)
    return tf_keras.Model(inp, out)


@pytest.fixture(scope="session")
def parity_batch() -> np.ndarray:
    return np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)


@pytest.fixture(scope="session")
def exports(tmp_path_factory, dense_model, parity_batch) -> dict[str, Path]:
    """One export of each kind, made once per session: layers float32, layers uint8,
    layers float16 and a graph model (the lesson-1 polynomial)."""
    from browserml import polyfit as pf
    from browserml.export import export_layers_model

    root = tmp_path_factory.mktemp("exports")
    made = {}
    for quant in (None, "uint8", "float16"):
        name = f"layers_{quant or 'float32'}"
        made[name] = export_layers_model(
            dense_model, root / name, task="test-mlp", parity_inputs={"features": parity_batch},
            quantization=quant, labels=["a", "b", "c"],
        )
    made["graph"] = pf.export_polynomial([0.5, -1.25, 0.75], root / "polynomial")
    return made
