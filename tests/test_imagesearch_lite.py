"""EfficientNet-Lite with real ImageNet weights: the safe .pth reader, the architecture
check, and the Keras model proven against an independent NumPy forward pass."""

from __future__ import annotations

import json
import pickle
import shlex
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from browserml.imagesearch import lite, torch_weights
from browserml.imagesearch import numpy_reference as ref
from browserml.imagesearch.imagenet_classes import (
    ClassNamesError,
    imagenet_class_names,
    imagenet_classes_path,
    parse_imagenet_classes,
)
from browserml.imagesearch.torch_weights import (
    LEGACY_MAGIC,
    LEGACY_PROTOCOL,
    CheckpointError,
    UnsafeCheckpointError,
    read_state_dict,
)

LITE0 = "efficientnet-lite0"
PHOTOS = ("chelsea", "coffee", "rocket", "astronaut")
CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE_CLASSES = {967, 968, 504}  # espresso, cup, coffee mug
ROCKET_CLASSES = {657, 744, 812}  # missile, projectile, space shuttle
# Published sizes (TF EfficientNet-Lite README: 4.7M, 5.4M, 6.1M) and the blocks per variant.
PUBLISHED_PARAMS = {"efficientnet-lite0": 4.7e6, "efficientnet-lite1": 5.4e6, "efficientnet-lite2": 6.1e6}
N_BLOCKS = {"efficientnet-lite0": 16, "efficientnet-lite1": 21, "efficientnet-lite2": 21}
# The TF.js layers format's classes that the lesson's export relies on.
TFJS_LAYER_CLASSES = {
    "InputLayer", "Conv2D", "DepthwiseConv2D", "BatchNormalization", "ReLU", "Add",
    "GlobalAveragePooling2D", "Dense",
}


# --- hand-built checkpoints: raw pickle opcodes, so no torch is needed to make them ----

def _global(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def _value(value: object) -> bytes:
    """One value's opcodes: a protocol-2 pickle without its PROTO header and STOP."""
    return pickle.dumps(value, protocol=2)[2:-1]


def _tensor(
    storage: str, key: str, numel: int, offset: int, size: tuple, stride: tuple, legacy: bool
) -> bytes:
    pid = b"(" + _value("storage") + _global("torch", storage) + _value(key) + _value("cpu") + _value(numel)
    pid += (_value(None) if legacy else b"") + b"t" + b"Q"  # TUPLE, BINPERSID
    hooks = _global("collections", "OrderedDict") + b")R"
    args = b"(" + pid + _value(offset) + _value(size) + _value(stride) + b"\x89" + hooks + b"t"
    return _global("torch._utils", "_rebuild_tensor_v2") + args + b"R"


STORAGES = {  # key: (torch storage class, flat data)
    "0": ("FloatStorage", np.arange(12, dtype=np.float32) - 5.5),
    "1": ("LongStorage", np.array([7], dtype=np.int64)),
    "2": ("HalfStorage", np.array([0.5, -2.0, 1024.0], dtype=np.float16)),
}
TENSORS = {  # name: (storage key, offset, size, stride) and the array it must read as
    "weight": (("0", 0, (3, 4), (4, 1)), STORAGES["0"][1].reshape(3, 4)),
    "weight_t": (("0", 0, (4, 3), (1, 4)), STORAGES["0"][1].reshape(3, 4).T),
    "tail": (("0", 8, (4,), (1,)), STORAGES["0"][1][8:]),
    "num_batches_tracked": (("1", 0, (), ()), np.array(7, dtype=np.int64)),
    "half": (("2", 1, (2,), (1,)), np.array([-2.0, 1024.0], dtype=np.float16)),
}


def _state_pickle(legacy: bool) -> bytes:
    body = b""
    for name, ((key, offset, size, stride), _) in TENSORS.items():
        storage, data = STORAGES[key]
        body += _value(name) + _tensor(storage, key, data.size, offset, size, stride, legacy)
    return b"\x80\x02" + _global("collections", "OrderedDict") + b")R(" + body + b"u."


def _legacy_header() -> bytes:
    sys_info = {"protocol_version": LEGACY_PROTOCOL, "little_endian": True, "type_sizes": {"long": 4}}
    return b"".join(pickle.dumps(v, protocol=2) for v in (LEGACY_MAGIC, LEGACY_PROTOCOL, sys_info))


def write_legacy(path: Path, state_pickle: bytes | None = None) -> Path:
    blob = _legacy_header() + (state_pickle or _state_pickle(legacy=True))
    blob += pickle.dumps(list(STORAGES), protocol=2)
    for _, data in STORAGES.values():
        blob += np.int64(data.size).tobytes() + data.tobytes()
    path.write_bytes(blob)
    return path


def write_zip(path: Path, data_pkl: bytes | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", data_pkl or _state_pickle(legacy=False))
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")
        for key, (_, data) in STORAGES.items():
            archive.writestr(f"archive/data/{key}", data.tobytes())
    return path


@pytest.mark.parametrize("writer", [write_legacy, write_zip], ids=["legacy", "zip"])
def test_reads_hand_built_checkpoints_exactly(tmp_path, writer):
    state = read_state_dict(writer(tmp_path / "ckpt.pth"))
    assert list(state) == list(TENSORS)
    for name, (_, expected) in TENSORS.items():
        assert state[name].dtype == expected.dtype and state[name].shape == expected.shape, name
        np.testing.assert_array_equal(state[name], expected)
        assert state[name].flags.c_contiguous and state[name].flags.writeable


def _os_system(marker: Path) -> bytes:
    return b"\x80\x02" + _global("os", "system") + _value((f"touch {shlex.quote(str(marker))}",)) + b"R."


def test_the_malicious_pickle_would_really_run(tmp_path):
    """Positive control: plain pickle (in a child process) does run the payload the next test refuses."""
    marker = tmp_path / "ran"
    payload = tmp_path / "payload.pkl"
    payload.write_bytes(_os_system(marker))
    subprocess.run([sys.executable, "-c", "import pickle, sys; pickle.loads(open(sys.argv[1], 'rb').read())",
                    str(payload)], check=True)
    assert marker.exists()


@pytest.mark.parametrize("where", ["first pickle", "state dict", "zip data.pkl"])
def test_refuses_os_system_and_runs_nothing(tmp_path, where):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    if where == "first pickle":
        path.write_bytes(_os_system(marker))
    elif where == "state dict":
        write_legacy(path, _os_system(marker))
    else:
        write_zip(path, _os_system(marker))
    with pytest.raises(UnsafeCheckpointError, match=r"os\.system") as err:
        read_state_dict(path)
    assert str(path) in str(err.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "module,name",
    [("builtins", "eval"), ("torch", "BFloat16Storage"), ("torch._utils", "_rebuild_parameter")],
)
def test_refuses_every_global_off_the_allowlist(tmp_path, module, name):
    path = write_legacy(tmp_path / "x.pth", b"\x80\x02" + _global(module, name) + b".")
    with pytest.raises(UnsafeCheckpointError, match=rf"{module}\.{name}"):
        read_state_dict(path)


@pytest.mark.parametrize("state", [{"size": (10**9,)}, (None, {"size": (10**9,)})], ids=["dict", "slots"])
def test_tensor_records_cannot_be_rewritten_after_their_checks(tmp_path, state):
    """A BUILD opcode after the rebuild call (to swap a checked size for a huge one) is refused."""
    storage, data = STORAGES["0"]
    tensor = _tensor(storage, "0", data.size, 0, (3, 4), (4, 1), legacy=True)
    rebuilt = tensor + _value(state) + b"b"  # BUILD: set attributes on what the rebuild returned
    pkl = b"\x80\x02" + _global("collections", "OrderedDict") + b")R(" + _value("w") + rebuilt + b"u."
    with pytest.raises(CheckpointError, match="tries to modify a _TensorRef"):
        read_state_dict(write_legacy(tmp_path / "t.pth", pkl))
    retyped = b"\x80\x02" + _global("torch", "FloatStorage") + _value(("FloatStorage", "<i8")) + b"b."
    with pytest.raises(CheckpointError, match="tries to modify a _StorageType"):
        read_state_dict(write_legacy(tmp_path / "s.pth", retyped))


def test_stride_zero_tensors_cannot_exhaust_memory(tmp_path):
    """A 10^12-element tensor on a 12-element storage (stride 0) is refused, not copied."""
    storage, data = STORAGES["0"]
    broadcast = _tensor(storage, "0", data.size, 0, (10**6, 10**6), (0, 0), legacy=False)
    pkl = b"\x80\x02" + _global("collections", "OrderedDict") + b")R(" + _value("w") + broadcast + b"u."
    with pytest.raises(CheckpointError, match="more elements"):
        read_state_dict(write_zip(tmp_path / "b.pth", pkl))


def _one_tensor_pickle(numel: int, legacy: bool, storage: str = "FloatStorage") -> bytes:
    tensor = _tensor(storage, "0", numel, 0, (numel,), (1,), legacy)
    return b"\x80\x02" + _global("collections", "OrderedDict") + b")R(" + _value("w") + tensor + b"u."


@pytest.mark.parametrize("legacy", [True, False], ids=["legacy", "zip"])
def test_a_storage_claiming_2_to_the_60_elements_is_refused_from_its_header(tmp_path, legacy):
    """Before: the legacy reader asked for 2^62 bytes at once and died with a bare MemoryError."""
    path = tmp_path / "huge.pth"
    pkl = _one_tensor_pickle(2**60, legacy)
    if legacy:
        path.write_bytes(_legacy_header() + pkl + pickle.dumps(["0"], protocol=2) + np.int64(2**60).tobytes())
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("archive/data.pkl", pkl)
            archive.writestr("archive/data/0", b"\0" * 16)
    with pytest.raises(CheckpointError, match=r"storage 0 claims 1152921504606846976 float32 elements.*refused"):
        read_state_dict(path)


def test_a_legacy_storage_longer_than_the_file_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(torch_weights, "MAX_CHECKPOINT_BYTES", 2**40)
    numel = 2**30  # 4 GiB of float32, under the raised cap: only the file's length can refuse it
    path = tmp_path / "short.pth"
    path.write_bytes(_legacy_header() + _one_tensor_pickle(numel, True) + pickle.dumps(["0"], protocol=2)
                     + np.int64(numel).tobytes() + b"\0" * 64)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=r"truncated in storage 0 \(64 of 4294967296 bytes left"):
            read_state_dict(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"{peak} bytes were allocated to refuse it"


def _deflated_bomb(path: Path, inflated: int, declared: int | None = None) -> Path:
    """A zip checkpoint whose one storage is ``inflated`` zero bytes, deflated to ~1/1000.
    ``declared`` rewrites the uncompressed size its headers state (a lying archive)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", _one_tensor_pickle((declared or inflated) // 4, False))
        archive.writestr("archive/data/0", bytes(inflated))
    if declared is not None:
        blob = bytearray(path.read_bytes())
        for signature, field in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
            start = 0
            while (start := blob.find(signature, start)) >= 0:
                name_length = int.from_bytes(blob[start + field + 4 : start + field + 6], "little") \
                    if signature == b"PK\x03\x04" else int.from_bytes(blob[start + 28 : start + 30], "little")
                name_at = start + (30 if signature == b"PK\x03\x04" else 46)
                if blob[name_at : name_at + name_length] == b"archive/data/0":
                    blob[start + field : start + field + 4] = declared.to_bytes(4, "little")
                start += 4
        path.write_bytes(bytes(blob))
    return path


def test_a_zip_bomb_is_refused_from_its_central_directory(tmp_path, monkeypatch):
    """A few kB that inflate to 64 MiB, over a (lowered) 32 MiB cap: refused from the
    declared sizes, with nothing near 64 MiB ever allocated."""
    monkeypatch.setattr(torch_weights, "MAX_CHECKPOINT_BYTES", 32 * 2**20)
    path = _deflated_bomb(tmp_path / "bomb.pth", 64 * 2**20)
    assert path.stat().st_size < 2**20
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match="refused before"):
            read_state_dict(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"{peak / 2**20:.0f} MiB were allocated to refuse it"


def test_a_zip_member_inflating_past_its_declared_size_is_cut_there(tmp_path):
    """The central directory says 4 kB; the data inflate to 64 MiB. Only the declared size
    is ever inflated, and the CRC mismatch names the damage."""
    path = _deflated_bomb(tmp_path / "liar.pth", 64 * 2**20, declared=4096)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match="damaged zip checkpoint"):
            read_state_dict(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"{peak / 2**20:.0f} MiB were allocated to refuse it"


def test_truncated_checkpoints_fail_clearly(tmp_path, lite0_path):
    blob = lite0_path.read_bytes()
    for cut, message in [(30, "not a readable"), (len(blob) // 2, "truncated"), (len(blob) - 1, "truncated")]:
        path = tmp_path / f"cut{cut}.pth"
        path.write_bytes(blob[:cut])
        with pytest.raises(CheckpointError, match=message):
            read_state_dict(path)
    zipped = write_zip(tmp_path / "z.pth").read_bytes()
    (tmp_path / "z_cut.pth").write_bytes(zipped[: len(zipped) // 2])
    with pytest.raises(CheckpointError, match="zip"):
        read_state_dict(tmp_path / "z_cut.pth")


def test_non_checkpoints_fail_clearly(tmp_path):
    cases = {
        "text.pth": b"hello, not a checkpoint\n",
        "plain_pickle.pth": pickle.dumps({"a": 1}, protocol=2),
        "npy.pth": b"\x93NUMPY" + bytes(100),
    }
    for name, blob in cases.items():
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(CheckpointError, match=name):
            read_state_dict(tmp_path / name)
    with pytest.raises(CheckpointError, match="missing"):
        read_state_dict(tmp_path / "nope.pth")
    nested = _legacy_header() + pickle.dumps({"model": 1}, protocol=2) + pickle.dumps([], protocol=2)
    (tmp_path / "nested.pth").write_bytes(nested)
    with pytest.raises(CheckpointError, match="not a tensor"):
        read_state_dict(tmp_path / "nested.pth")


# --- the real weights ------------------------------------------------------------------

@pytest.fixture(scope="module")
def lite0_path() -> Path:
    return lite.LITE_VARIANTS[LITE0].weights_path()


@pytest.fixture(scope="module")
def lite0_state() -> dict[str, np.ndarray]:
    return lite.load_variant_state_dict(LITE0)


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    from skimage import data

    return [getattr(data, name)() for name in PHOTOS]


@pytest.fixture(scope="module")
def lite0_model():
    return lite.build_efficientnet_lite(LITE0)


@pytest.mark.parametrize("variant", sorted(lite.LITE_VARIANTS))
def test_state_dicts_match_the_architecture(variant):
    state = lite.load_variant_state_dict(variant)  # raises on any missing/extra/mis-shaped key
    assert {k: v.shape for k, v in state.items()} == lite.expected_shapes(variant)
    assert len(lite.block_specs(variant)) == N_BLOCKS[variant]
    assert len({k.split(".")[1] for k in state if k.startswith("_blocks.")}) == N_BLOCKS[variant]
    params = lite.state_dict_param_count(state)
    assert abs(params - PUBLISHED_PARAMS[variant]) / PUBLISHED_PARAMS[variant] < 0.02
    assert state["_fc.weight"].dtype == np.float32 and state["_bn0.num_batches_tracked"].dtype == np.int64


def test_lite0_parameter_count(lite0_state):
    assert len(lite0_state) == 296
    assert lite.state_dict_param_count(lite0_state) == 4_694_024
    assert lite0_state["_fc.weight"].shape == (1000, 1280)


def test_mismatched_state_dicts_are_named(lite0_state):
    missing = {k: v for k, v in lite0_state.items() if k != "_blocks.3._bn1.running_var"}
    extra = dict(lite0_state, **{"_blocks.16._project_conv.weight": np.zeros((1, 1, 1, 1))})
    reshaped = dict(lite0_state, **{"_conv_head.weight": np.zeros((1280, 352, 1, 1), np.float32)})
    for state, problem in [(missing, "missing _blocks.3._bn1.running_var"),
                           (extra, "unexpected _blocks.16._project_conv.weight"),
                           (reshaped, r"_conv_head.weight has shape \(1280, 352, 1, 1\)")]:
        with pytest.raises(lite.WeightsMismatchError, match=problem):
            lite.check_state_dict(state, LITE0)
    with pytest.raises(lite.WeightsMismatchError, match="efficientnet-lite2"):
        lite.check_state_dict(lite0_state, "efficientnet-lite2")


def test_round_filters_matches_the_lite2_checkpoint():
    # Lite2's stage widths (x1.1), read off its state dict: 16, 24, 48, 88, 120, 208, 352.
    assert [lite.round_filters(s.out_filters, 1.1) for s in lite.STAGES] == [16, 24, 48, 88, 120, 208, 352]
    assert lite.round_filters(32, 1.1) == 32


# --- the Keras model -----------------------------------------------------------------

def test_keras_model_layout(lite0_model, lite0_state):
    model = lite0_model
    assert model.count_params() == lite.state_dict_param_count(lite0_state)
    assert model.input_names == ["image"] and tuple(model.input_shape) == (None, 224, 224, 3)
    assert tuple(model.output_shape) == (None, 1000)
    names = {layer.name for layer in model.layers}
    for name in ["stem_conv", "stem_bn", "stem_relu", "block1a_dwconv", "block1a_dwbn", "block1a_dwrelu",
                 "block1a_project_conv", "block1a_project_bn", "block2a_expand_conv", "block2b_add",
                 "block7a_project_bn", "head_conv", "head_bn", "head_relu", "avg_pool", "logits"]:
        assert name in names, name
    assert "block1a_expand_conv" not in names and "block2a_add" not in names
    assert {type(layer).__name__ for layer in model.layers} <= TFJS_LAYER_CLASSES
    np.testing.assert_array_equal(model.get_layer("logits").get_weights()[0], lite0_state["_fc.weight"].T)


def test_preprocess_is_the_affine_map():
    rng = np.random.default_rng(0)
    sized = rng.integers(0, 256, size=(224, 224, 3), dtype=np.uint8)
    np.testing.assert_allclose(lite.preprocess(sized, LITE0)[0], (sized - 127.0) / 128.0, atol=1e-7)
    assert lite.preprocess([sized, rng.integers(0, 256, size=(30, 50, 3), dtype=np.uint8)], LITE0).shape == (
        2, 224, 224, 3)
    flat = np.full((40, 60, 3), 200, np.uint8)  # bilinear resize keeps a constant image constant
    expected = np.full((1, 260, 260, 3), 73 / 128)
    np.testing.assert_allclose(lite.preprocess(flat, "efficientnet-lite2"), expected)
    with pytest.raises(ValueError, match="RGB"):
        lite.preprocess(np.zeros((224, 224), np.uint8), LITE0)
    with pytest.raises(ValueError, match="unknown EfficientNet-Lite variant"):
        lite.preprocess(sized, "efficientnet-b0")


@pytest.mark.parametrize(
    "shape,kernel,stride", [((1, 9, 10, 3), 3, 2), ((2, 8, 7, 4), 5, 2), ((1, 6, 6, 4), 3, 1)]
)
def test_numpy_convolutions_match_tensorflow_same_padding(shape, kernel, stride):
    """The reference's hand-made TF 'SAME' padding and window sums, checked against TF's own ops."""
    import tensorflow as tf

    rng = np.random.default_rng(1)
    x = rng.normal(size=shape)
    weight = rng.normal(size=(6, shape[3], kernel, kernel))  # PyTorch (out, in, kh, kw)
    expected = tf.nn.conv2d(x, weight.transpose(2, 3, 1, 0), stride, "SAME").numpy()
    np.testing.assert_allclose(ref.conv2d(x, weight, stride), expected, atol=1e-10)
    dw = rng.normal(size=(shape[3], 1, kernel, kernel))
    expected = tf.nn.depthwise_conv2d(x, dw.transpose(2, 3, 0, 1), (1, stride, stride, 1), "SAME").numpy()
    np.testing.assert_allclose(ref.depthwise_conv2d(x, dw, stride), expected, atol=1e-10)


def test_lite0_matches_numpy_reference_on_photos(lite0_model, lite0_state, photos):
    x = lite.preprocess(photos, LITE0)
    keras_logits = lite0_model.predict(x, verbose=0)
    numpy_logits = ref.forward(lite0_state, x, LITE0)
    assert np.abs(keras_logits - numpy_logits).max() <= 1e-3
    keras_top = lite.top_classes(keras_logits)
    numpy_top = lite.top_classes(numpy_logits)
    assert [[i for i, _, _ in row] for row in keras_top] == [[i for i, _, _ in row] for row in numpy_top]
    chelsea, coffee, rocket, _ = lite.classify(lite0_model, photos, LITE0)
    assert chelsea[0][0] in CAT_CLASSES, chelsea
    assert coffee[0][0] in COFFEE_CLASSES, coffee
    assert ROCKET_CLASSES & {i for i, _, _ in rocket}, rocket
    assert chelsea[0][1] == imagenet_class_names()[chelsea[0][0]]


def test_headless_model_holds_the_full_models_feature_weights(lite0_model):
    headless = lite.build_efficientnet_lite(LITE0, include_top=False)
    assert tuple(headless.output_shape) == (None, 7, 7, 1280)
    assert headless.layers[-1].name == "head_relu"
    full = {layer.name: layer.get_weights() for layer in lite0_model.layers}
    assert headless.count_params() == lite0_model.count_params() - (1280 * 1000 + 1000)
    for layer in headless.layers:
        for mine, theirs in zip(layer.get_weights(), full[layer.name]):
            np.testing.assert_array_equal(mine, theirs)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["efficientnet-lite1", "efficientnet-lite2"])
def test_bigger_variants_match_numpy_reference(variant, photos):
    model = lite.build_efficientnet_lite(variant)
    state = lite.load_variant_state_dict(variant)
    assert model.count_params() == lite.state_dict_param_count(state)
    x = lite.preprocess(photos[:1], variant)
    assert x.shape[1] == lite.LITE_VARIANTS[variant].resolution
    keras_logits = model.predict(x, verbose=0)
    numpy_logits = ref.forward(state, x, variant)
    assert np.abs(keras_logits - numpy_logits).max() <= 1e-3
    assert list(np.argsort(-keras_logits[0])[:5]) == list(np.argsort(-numpy_logits[0])[:5])
    assert int(keras_logits[0].argmax()) in CAT_CLASSES


# --- class names -----------------------------------------------------------------------

def test_imagenet_class_names_match_node():
    from browserml.tfjs_check import node_executable

    names = imagenet_class_names()
    assert len(names) == 1000
    assert names[0].startswith("tench") and names[999].startswith("toilet tissue")
    assert names[319].startswith("dragonfly, darning needle, devil's darning needle")  # escape + line join
    script = ("const c = require(process.argv[1]).IMAGENET_CLASSES;"
              "console.log(JSON.stringify(Array.from({length: 1000}, (_, i) => c[i])));")
    out = subprocess.run([node_executable(), "-e", script, str(imagenet_classes_path())],
                         capture_output=True, text=True, check=True).stdout
    assert tuple(json.loads(out)) == names


def test_class_name_parser_rejects_what_it_does_not_know():
    good = "exports.IMAGENET_CLASSES = {\n" + ",\n".join(f"    {i}: 'c{i}'" for i in range(1000)) + "\n};"
    assert parse_imagenet_classes(good)[999] == "c999"
    for bad, problem in [
        (good.replace("'c5'", "c5"), "cannot parse"),
        (good.replace("    999: 'c999'", "    998: 'x'"), "twice"),
        (good.replace("'c7'", "'c\\n7'"), "escape"),
        ("module.exports = {};", "no `exports.IMAGENET_CLASSES"),
    ]:
        with pytest.raises(ClassNamesError, match=problem):
            parse_imagenet_classes(bad, "bad.js")
