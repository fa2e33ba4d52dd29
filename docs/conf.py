"""Sphinx configuration of the mc documentation (built by ``nox -s docs``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "_ext"))

os.environ.setdefault("MPLBACKEND", "Agg")
# the gallery shows the examples' figures: they need not save them (as they do run by hand)
os.environ["MC_GALLERY_BUILD"] = "1"

project = "mc"
author = "the mc contributors"
copyright = "2026, the mc contributors (MIT licence)"  # noqa: A001 - Sphinx's name

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 copied into the build: equations render offline
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "mc_docs",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "sg_execution_times.rst", "**/sg_execution_times.rst"]
root_doc = "index"

html_theme = "furo"
html_title = "mc: dendritic cortical microcircuits"
html_static_path = ["_static"]
html_css_files = ["mc.css"]

# Every cross-reference must resolve (the internal link check); intersphinx is off so that
# the build needs no network: references to other projects' objects are ignored by name.
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(numpy|np|pathlib|collections|typing|dask|dask_jobqueue|distributed|zarr|matplotlib|tempfile)\..*",
    ),
    (r"py:mod", r"(ast|numba|pygenn|zarr|dask)"),
    (r"py:.*", r"(Path|Any|Callable|Mapping|Sequence|Iterable|Iterator|ndarray|Figure)"),
]
intersphinx_mapping: dict = {}

autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"
autodoc_default_options = {"members": True, "inherited-members": False}
autoclass_content = "class"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set = set()

myst_heading_anchors = 3

# The gallery: every script of examples/ runs at build time; MC_EXAMPLES_SIZE=tiny shrinks
# them further (the tests run them that way).
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "gallery",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    "matplotlib_animations": False,
    "reset_modules": ("matplotlib",),
    "image_scrapers": ("matplotlib",),
    "abort_on_example_error": True,
    "capture_repr": (),  # printed output only, not the repr of a block's last expression
    "write_computation_times": False,  # its page loads scripts from CDNs: the docs are offline
}
