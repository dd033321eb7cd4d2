"""Lesson 4's key cells do what the package does: the notebook's own SavedModel and
``tensorflowjs_converter`` cells, run here as written, give the package's float32 conversion
file for file; the same command without ``grappler_without()`` gives another graph
(Appendix B), which the comparison must notice."""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from tools.cells import code_cell

from browserml.compat import import_tensorflowjs
from browserml.paths import project_root

NOTEBOOK = project_root() / "notebooks" / "04_handtrack_conversion.ipynb"


def notebook_cell(marker: str) -> str:
    """The one code cell of the lesson that contains ``marker``."""
    return code_cell(NOTEBOOK.name, marker)


@pytest.fixture(scope="module")
def cells_ran() -> dict:
    from browserml.handtrack import convert
    from browserml.handtrack import detect as hd

    namespace = {"Path": Path, "tempfile": tempfile, "shlex": shlex, "pd": pd, "hd": hd, "convert": convert,
                 "import_tensorflowjs": import_tensorflowjs}
    for marker in ("convert.write_saved_model(", "tensorflowjs.converters.convert(shlex.split(command))",
                   'plain = convert_dir / "web_model_plain"'):
        exec(notebook_cell(marker), namespace)  # the lesson's own cells
    return namespace


@pytest.mark.slow
def test_the_command_converts_the_saved_model_into_the_packages_export(cells_ran, tmp_path):
    from browserml.handtrack.convert import PARITY_SHAPE, compare_conversions, export_variant
    from browserml.handtrack.graph import sample_pixels

    web_model = cells_ran["web_model"]
    files = cells_ran["files"]
    assert files.file.tolist() == ["group1-shard1of3.bin", "group1-shard2of3.bin", "group1-shard3of3.bin",
                                   "model.json"]
    assert (files.bytes[:2] == 4 * 2**20).all()  # the converter's default shard: 4 MiB, the talk's "4.2mb"
    package = export_variant(cells_ran["large"].graph, tmp_path / "base", "base", sample_pixels(*PARITY_SHAPE))
    same = compare_conversions(web_model, package)
    assert same.identical, str(same)
    assert "identical" in str(same) and f"{same.weight_bytes[0]:,} bytes" in str(same)


@pytest.mark.slow
def test_without_grappler_without_the_graph_differs_and_the_comparison_says_so(cells_ran):
    from browserml.handtrack.convert import compare_conversions

    plain = compare_conversions(cells_ran["plain"], cells_ran["web_model"])
    assert not plain.identical and not plain.same_graph
    assert "Tile" in plain.ops_only_in_first  # grappler's arithmetic pass turned the upsampling's Pack into Tile
    assert "differs" in str(plain) and "Tile" in str(plain)


def test_write_saved_model_refuses_an_existing_folder(tmp_path):
    from browserml.handtrack.convert import ConversionError, write_saved_model

    with pytest.raises(ConversionError, match="already exists"):
        write_saved_model(None, tmp_path)  # type: ignore[arg-type]
