"""Every number the notebooks take from Stoica's essay, and every number computed from them, is right.

The essay's figures (``The Future of Computing is Distributed``, Ion Stoica, 2020) are
copied below from the project's fact sheet; a notebook may quote only these, in these
words, and the numbers it derives from them (growth over six years, per 18 months) are
recomputed here from the formulas the notebook plots.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from tests.notebooks import harness

# (notebook, phrase as written, the essay's figure it quotes)
ESSAY_QUOTES = [
    ("00", "10-20%", "now it grows 10-20% over the same period"),
    ("00", "**3.4 months**", "doubled roughly every 3.4 months since 2012"),
    ("00", "58 minutes on 16 GPUs", "ResNet-50 (2015) trained in 58 minutes on 16 V100 GPUs"),
    ("00", "22 days on 336 GPUs", "ResNeXt-101 Instagram (2018) took 22 days on 336 GPUs"),
    ("00", "about 11,000x", "about 11,000x"),
    ("00", "some 22x a year", "about 22x a year"),
    ("00", "about 1.6x a year", "Moore's law gives about 1.6x a year"),
    ("00", "only 2x came\n#   from faster chips; the rest came from using 4x as many", "only 2x ... 4x more processors"),
    ("00", "8x between TPU v2 and v3", "TPU v3 pods are 8x more powerful than TPU v2 pods"),
    ("04", "17 hyperparameters", "RoBERTa has 17 hyperparameters"),
    ("04", "over 130,000 configurations", "over 130K configurations"),
    ("06", "128,000 CPU cores", "128,000 CPU cores"),
    ("06", "256 GPUs", "just 256 GPUs"),
    ("06", "500 times more CPUs than GPUs", "500x more CPUs than GPUs"),
]


def _text(number: str) -> str:
    path = next(harness.NOTEBOOK_DIR.glob(f"source/{number}-*.py"))
    return path.read_text()


@pytest.mark.parametrize("number, phrase, fact", ESSAY_QUOTES, ids=[f"{n}:{p[:20]}" for n, p, _ in ESSAY_QUOTES])
def test_essay_figures_are_quoted_as_the_essay_gives_them(number: str, phrase: str, fact: str) -> None:
    assert phrase in _text(number), f"notebook {number} should say {phrase!r} (essay: {fact})"


def test_numbers_derived_from_the_essay_are_computed_right() -> None:
    text = _text("00")
    six_years = 2 ** (72 / 3.4)
    assert round(six_years / 1e6, 1) == 2.4 and "**2.4 million** times higher" in text
    assert round(1.15 ** (72 / 18), 2) == 1.75 and "1.75 times faster" in text
    assert round(2 ** (18 / 3.4)) == 39 and "nearly 40x every 18 months" in text
    assert 2**17 > 130_000  # "over 130,000 configurations"
    assert round(128_000 / 256) == 500


def test_no_notebook_repeats_the_old_billion_claim() -> None:
    for path in harness.notebooks():
        cells = nbformat.read(path, as_version=4).cells
        prose = " ".join(c.source for c in cells if c.cell_type == "markdown")
        assert not re.search(r"\bbillion\b", prose), f"{path.name}: 2 ** (72 / 3.4) is about 2.4 million"
