"""The documentation: the model page is generated from the models, the built site is whole.

The generator tests need Sphinx (the docs' dependencies, ``docs/requirements.txt``) and are
skipped without it. The tests of the built site run where ``docs/_build/html`` exists and
are skipped otherwise; ``nox -s docs`` builds the site and then runs them with
``MC_DOCS_BUILT=1``, which turns a missing build into a failure.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "docs" / "_build" / "html"
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))


@pytest.fixture(scope="module")
def mc_docs():
    pytest.importorskip("sphinx", reason="the docs extension needs Sphinx (docs/requirements.txt)")
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    try:
        import mc_docs
    finally:
        sys.path.pop(0)
    return mc_docs


def test_model_section_lists_every_declared_parameter_and_variable(mc_docs):
    from mc_models import neuron_model, synapse_model

    for model, kind in ((neuron_model("pyramidal"), "Neuron"), (synapse_model("pal"), "Synapse")):
        text = "\n".join(mc_docs.model_lines(model, kind))
        assert f".. _model-{model.name}:" in text
        for p in model.params:
            assert f"   * - ``{p.name}``\n     - {p.doc}" in text
        for v in model.vars:
            assert f"   * - ``{v.name}``\n     - {v.doc}" in text
        at = text.index("Every time step")
        for row in mc_docs.latex.statement_rows(model.block, model.switches):
            at = text.index(row, at + 1)  # every statement of the update, rendered, in order
    text = "\n".join(mc_docs.model_lines(neuron_model("pyramidal"), "Neuron"))
    assert "   * - ``g_leak``\n     - leak conductance g_L\n     - —\n     - ``0.03``" in text


def test_step_program_table_follows_the_program(mc_docs):
    from mc_network import build_topology, yinyang_spec
    from mc_network.program import lower

    spec = yinyang_spec("pal")
    program = lower(spec, build_topology(spec))
    text = "\n".join(mc_docs.program_lines("yinyang", "pal"))
    rows = re.findall(r"   \* - (\d+)\n     - ``(\w+)``: :ref:`(\w+) <", text)
    synapse_rows, neuron_rows = rows[: len(program.synapses)], rows[len(program.synapses) :]
    assert [(r[1], r[2]) for r in synapse_rows] == [
        (op.projection, op.model.name) for op in program.synapses
    ]
    assert [(r[1], r[2]) for r in neuron_rows] == [
        (op.population, op.model.name) for op in program.neurons
    ]
    # the PAL rule reads the upper rates and the lower noise of the previous step
    assert (
        "``output.rate_highpass`` [k−1], ``output.rate`` [k−1], ``pyramidal_1.noise`` [k−1]" in text
    )
    # the hidden pyramidal sums its inputs of this step
    assert "``Isyn_up`` = ``ff_1`` [k]; ``Isyn_down`` = ``fb_1`` [k]" in text


def test_previous_step_reads(mc_docs):
    from mc_models.expr import parse_block

    block = parse_block("a = b\nif c > 0.0:\n    b = a + d\nd += b")
    # b, c and d are read before this block writes them; a only after
    assert mc_docs.previous_step_reads(block) == ["b", "c", "d"]


built = pytest.mark.skipif(
    not HTML.is_dir() and not os.environ.get("MC_DOCS_BUILT"),
    reason="the documentation has not been built (nox -s docs builds it and runs these tests)",
)


@built
def test_gallery_pages_show_their_figures():
    images = HTML / "_images"
    for example in EXAMPLES:
        page = HTML / "gallery" / f"{example.stem}.html"
        assert page.is_file(), f"{page} missing: the gallery did not build {example.name}"
        shown = re.findall(
            r'src="\.\./_images/(sphx_glr_' + example.stem + r'_\d+\.png)"', page.read_text()
        )
        assert shown, f"{page} shows no figure of {example.name}"
        for name in shown:
            assert (images / name).stat().st_size > 1000, f"{name} is empty"
    index = (HTML / "gallery" / "index.html").read_text()
    for example in EXAMPLES:
        assert f"{example.stem}.html" in index, example.name


@built
def test_model_page_has_every_registered_model():
    # the registry as the docs build saw it: a fresh interpreter, not this test session,
    # where test modules register models of their own
    names = subprocess.run(
        [
            sys.executable,
            "-c",
            "from mc_models import neuron_models, synapse_models; "
            "print(*neuron_models(), *synapse_models())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert names
    page = (HTML / "model.html").read_text()
    for name in names:
        assert f'id="model-{name.replace("_", "-")}"' in page, name
    assert page.count('class="math') >= len(names)


@built
def test_pages_load_nothing_from_the_network():
    """No page loads a script, style sheet or image from elsewhere: MathJax is in the build."""
    remote = []
    for page in HTML.rglob("*.html"):
        for tag, attr, value in _parse(page).loads:
            if urlsplit(value).scheme or value.startswith("//"):
                remote.append(f"{page.relative_to(HTML)}: <{tag} {attr}={value}>")
    assert not remote, "\n".join(remote[:20])
    model = _parse(HTML / "model.html")
    (mathjax,) = [v for tag, _, v in model.loads if tag == "script" and "mathjax" in v.lower()]
    assert (HTML / urlsplit(mathjax).path).stat().st_size > 10_000, mathjax


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.loads: list[tuple[str, str, str]] = []  # what the browser fetches to show the page

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag in ("img", "script") and a.get("src"):
            self.links.append(a["src"])
            self.loads.append((tag, "src", a["src"]))
        if tag == "link" and a.get("href"):
            self.links.append(a["href"])
            if a.get("rel") in ("stylesheet", "icon", "preload"):
                self.loads.append((tag, "href", a["href"]))


@built
def test_internal_links_resolve():
    """Every relative link of every page points to a file that exists, and to its anchor."""
    pages = {p: _parse(p) for p in HTML.rglob("*.html")}
    broken = []
    for page, parsed in pages.items():
        for link in parsed.links:
            url = urlsplit(link)
            if url.scheme or url.netloc or link.startswith(("mailto:", "javascript:")):
                continue  # external: not checked (no network)
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if not target.exists():
                broken.append(f"{page.relative_to(HTML)}: {link}")
            elif url.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(url.fragment) not in ids:
                    broken.append(f"{page.relative_to(HTML)}: {link} (no such anchor)")
    assert not broken, "\n".join(broken[:50])


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(errors="replace"))
    return parser


def _rst_python_blocks(path: Path) -> list[str]:
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)", path.read_text())
    return [textwrap.dedent(b) for b in blocks]


QUICKSTART = ROOT / "docs" / "tutorials" / "quickstart.rst"


@pytest.mark.parametrize("index", range(len(_rst_python_blocks(QUICKSTART))))
def test_quickstart_python_blocks_run(index, monkeypatch, capsys, tmp_path):
    import tempfile

    monkeypatch.chdir(ROOT)  # the snippets name configs relative to the repository
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the system's, as seen by them
    block = _rst_python_blocks(QUICKSTART)[index]
    env: dict = {"__name__": "quickstart"}
    exec(compile(block, f"quickstart.rst python block {index + 1}", "exec"), env)
    if "rec" in env:
        assert env["rec"]["output.v_brev"].shape == (3, 50, 3)
    else:
        name, accuracy = capsys.readouterr().out.split()
        assert name.startswith("yinyang_pal_quick_") and 0.0 <= float(accuracy) <= 100.0
    assert not list(tmp_path.iterdir()), "the snippet left files in the temporary folder"
