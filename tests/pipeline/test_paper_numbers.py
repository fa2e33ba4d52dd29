"""The numbers ``paper/README.md`` states are the archived ones, as shown.

Every number of its per-variant tables (from each sweep's ``summary.json``) and of its
comparison tables (from ``comparisons.csv``) is checked against the archived file, read from
the ``archive`` remote through ``dvc.lock`` (no DVC, no pull needed): rounded half up to the
digits shown, and exactly for the Mann-Whitney U statistic, which is an integer or a half
(a tie). A number edited by hand, or a summary recomputed without updating the text, fails.
"""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import ROUND_HALF_UP, Decimal

import pytest
from archive_verify import ROOT, configured_remote, locked_outputs, object_path

README = ROOT / "paper" / "README.md"
VARIANTS = {"PAL": "pal", "FA": "fa", "eta_B = 0 (`bw_eta_zero`)": "bw_eta_zero"}
PAIRS = {"PAL vs FA": ("pal", "fa"), "PAL vs eta_B = 0": ("pal", "bw_eta_zero")}
METRICS = {
    "test accuracy": "test_accuracy",
    "final validation accuracy": "final_validation_accuracy",
    "final angle": "final_angle_fb_1",
}
NUMBER = r"[+-]?\d+(?:\.\d+)?(?:e[+-]?\d+)?"


def _archived(output: str, name: str) -> bytes:
    """The file ``<output>/<name>`` as archived for the ``dvc.lock`` of this commit."""
    remote = configured_remote(ROOT)
    (md5,) = [m for path, m in locked_outputs(ROOT / "dvc.lock") if path == output]
    listing = json.loads(object_path(remote, md5).read_text())
    (entry,) = [e for e in listing if e["relpath"] == name]
    return object_path(remote, entry["md5"]).read_bytes()


def _sections() -> dict[str, str]:
    """``paper/README.md``'s text under each ``### `` heading of "The numbers"."""
    text = README.read_text().split("## The numbers", 1)[1]
    parts = re.split(r"^### (.+)$", text, flags=re.M)
    return {parts[i].split(" ")[0].lower().replace("-", ""): parts[i + 1] for i in (1, 3)}


def _rows(section: str) -> list[list[str]]:
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("|")]
    return [[c.strip() for c in r] for r in rows if not set("".join(r)) <= set("-: ")]


def _shown(shown: str, value: float, what: str) -> None:
    """``shown`` is ``value`` rounded half up to the digits shown (significant ones for 1e-6)."""
    if "e" in shown:
        mantissa, exponent = shown.split("e")
        digits = len(mantissa.split(".")[1]) if "." in mantissa else 0
        got = f"{value:.{digits}e}".split("e")
        assert float(got[0]) == float(mantissa) and int(got[1]) == int(exponent), (what, value)
        return
    exp = Decimal(1).scaleb(-len(shown.split(".")[1]) if "." in shown else 0)
    rounded = Decimal(repr(value)).quantize(exp, rounding=ROUND_HALF_UP)
    assert rounded == Decimal(shown), f"{what}: {shown} shown, {value} archived"


@pytest.mark.parametrize("sweep", ["yinyang", "mnist"])
def test_variant_tables_state_the_archived_summary(sweep):
    summary = json.loads(_archived(f"paper/{sweep}", "summary.json"))
    rows = [r for r in _rows(_sections()[sweep]) if r[0] in VARIANTS]
    assert len(rows) == len(summary["variants"])
    for name, seeds, test, span, valid, angle in rows:
        v = summary["variants"][VARIANTS[name]]
        assert int(seeds) == v["n_runs"]
        lo, hi = re.fullmatch(rf"({NUMBER})-({NUMBER})", span).groups()
        numbers = [*re.findall(NUMBER, test), lo, hi, *re.findall(NUMBER, valid)]
        numbers += re.findall(NUMBER, angle)
        t, fv, fa = v["test_accuracy"], v["final_validation_accuracy"], v["final_angle"]["fb_1"]
        values = [t["mean"], t["std"], t["min"], t["max"], fv["mean"], fv["std"]]
        values += [fa["mean"], fa["std"]]
        for shown, value in zip(numbers, values, strict=True):
            _shown(shown, value, f"{sweep} {name}")


@pytest.mark.parametrize("sweep", ["yinyang", "mnist"])
def test_comparison_tables_state_the_archived_tests(sweep):
    table = _archived(f"paper/{sweep}", "comparisons.csv").decode()
    archived = {(r["a"], r["b"], r["metric"]): r for r in csv.DictReader(io.StringIO(table))}
    rows = [r for r in _rows(_sections()[sweep]) if r[0] in PAIRS]
    assert len(rows) == len(archived)
    for pair, metric, diff, welch, mann_whitney, g in rows:
        row = archived[(*PAIRS[pair], METRICS[metric])]
        numbers = re.findall(NUMBER, diff) + re.findall(NUMBER, welch)
        numbers += re.findall(NUMBER, mann_whitney) + [g]
        keys = ["difference", "ci95_low", "ci95_high", "welch_t", "welch_df", "welch_p"]
        keys += ["mann_whitney_u", "mann_whitney_p", "hedges_g"]
        for shown, key in zip(numbers, keys, strict=True):
            what = f"{sweep} {pair} {metric} {key}"
            if key == "mann_whitney_u":  # an integer or a half: shown exactly
                assert float(shown) == float(row[key]), f"{what}: U = {shown}, archived {row[key]}"
            else:
                _shown(shown, float(row[key]), what)
