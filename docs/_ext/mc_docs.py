"""Sphinx directives that render the model page from the models' own declarations.

``.. mc-models::`` iterates the mc-models registry and writes, for every neuron and synapse
model, its documentation (the model module's docstring), its parameters (name, meaning,
unit, default, valid values), derived parameters, state variables, inputs, switches and its
update as math (:mod:`mc_models.render.latex`). ``.. mc-step-program:: PRESET FEEDBACK``
lowers a preset network into its step program (:mod:`mc_network.program`) and writes the
per-step order: which variable of which step each operation reads. Nothing is copied by
hand: the text is generated from the objects the backends run.
"""

from __future__ import annotations

import functools
import importlib

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

from mc_models import NeuronModel, SynapseModel, neuron_models, synapse_models
from mc_models.expr import Assign, If, names
from mc_models.render import latex


def _cell(text: str) -> str:
    return text.replace("|", r"\|") if text else "—"


def _default(value) -> str:
    if value is None:
        return "set by the network"
    return f"``{value:g}``" if isinstance(value, float) else f"``{value}``"


def _table(title: str, header: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return []
    out = [f".. list-table:: {title}", "   :header-rows: 1", "   :class: mc-params", ""]
    for row in [header, *rows]:
        out.append("   * - " + _cell(row[0]))
        out += ["     - " + _cell(c) for c in row[1:]]
    return [*out, ""]


def _math(tex: str) -> list[str]:
    return [".. math::", "", *("   " + line for line in tex.splitlines()), ""]


def _indent(text: str) -> list[str]:
    return text.strip("\n").splitlines()


def model_lines(model: NeuronModel | SynapseModel, kind: str) -> list[str]:
    """ReStructuredText of one model's section, generated from its declaration."""
    title = f"``{model.name}``"
    out = [f".. _model-{model.name}:", "", title, "~" * len(title), ""]
    out += [f"*{kind} model, registry name* ``{model.name}``.", ""]
    out += [*_indent(model.doc or ""), ""]
    out += _table(
        "Parameters",
        ["name", "meaning", "unit", "default", "valid"],
        [[f"``{p.name}``", p.doc, p.unit, _default(p.default), p.domain] for p in model.params],
    )
    out += _table(
        "Derived parameters (computed once in float64 from the parameters and dt, then cast)",
        ["name", "meaning"],
        [[f"``{d.name}``", d.doc] for d in model.derived],
    )
    out += _table(
        "State variables",
        ["name", "meaning", "type", "initial value"],
        [
            [
                f"``{v.name}``",
                v.doc + (" (one per batch member)" if v.shared else ""),
                v.type,
                f"parameter ``{v.init}``" if isinstance(v.init, str) else _default(v.init),
            ]
            for v in model.vars
        ],
    )
    facts = []
    if isinstance(model, NeuronModel) and model.inputs:
        facts.append("inputs (synaptic sums, zeroed every step): " + _code(model.inputs))
    if model.switches:
        facts.append("run-time switches: " + _code(model.switches))
    if isinstance(model, NeuronModel) and model.noise_gate:
        facts.append(f"no noise is drawn when ``{model.noise_gate}`` is 0")
    if isinstance(model, SynapseModel):
        pre = [v for _, v in model.pre_refs]
        post = [v for _, v in model.post_refs]
        if pre:
            facts.append("reads of the presynaptic neuron: " + _code(pre))
        if post:
            facts.append("reads of the postsynaptic neuron: " + _code(post))
    out += [f"* {f}" for f in facts] + ([""] if facts else [])
    eq = latex.model_equations(model)
    if eq.get("stage_start"):
        out += ["Before every stage:", "", *_math(eq["stage_start"])]
    if eq["update"]:
        out += ["Every time step, in this order:", "", *_math(eq["update"])]
    if "output" in eq:
        out += ["Then each synapse's output is summed into the target input:", ""]
        out += _math(eq["output"])
    return out


def previous_step_reads(block) -> list[str]:
    """Names a block reads before it assigns them (in a neuron update: values of step k-1)."""
    written: set[str] = set()
    early: list[str] = []

    def visit(stmts) -> None:
        for s in stmts:
            if isinstance(s, If):
                read = names(s.test)
            else:
                assert isinstance(s, Assign)
                read = names(s.full_value)
            early.extend(n for n in sorted(read) if n not in written and n not in early)
            if isinstance(s, If):
                visit(s.body)
                visit(s.orelse)
            else:
                written.add(s.target)

    visit(block)
    return early


def _code(items) -> str:
    return ", ".join(f"``{i}``" for i in items)


class _Generated(SphinxDirective):
    def _parse(self, lines: list[str]) -> list[nodes.Node]:
        node = nodes.section() if self.sections else nodes.container()
        node.document = self.state.document
        content = StringList(lines, source=f"<generated by {self.name}>")
        self.state.nested_parse(content, self.content_offset, node, match_titles=True)
        return node.children

    sections = True


class ModelsDirective(_Generated):
    """``.. mc-models::`` — every registered neuron and synapse model."""

    has_content = False
    option_spec = {"kind": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        kind = self.options.get("kind", "all")
        lines: list[str] = []
        if kind in ("all", "neuron"):
            for model in neuron_models().values():
                lines += model_lines(model, "Neuron")
        if kind in ("all", "synapse"):
            for model in synapse_models().values():
                lines += model_lines(model, "Synapse")
        return self._parse(lines)


class ActivationsDirective(_Generated):
    """``.. mc-activations::`` — every activation, from its expression."""

    has_content = False
    sections = False

    def run(self) -> list[nodes.Node]:
        from mc_models import ACTIVATIONS

        lines: list[str] = []
        for act in ACTIVATIONS.values():
            lines += [f"``{act.name}``", "", *("   " + r for r in _math(latex.activation(act)))]
        return self._parse(lines)


def program_lines(preset: str, feedback: str) -> list[str]:
    """ReStructuredText of one preset network's step program."""
    from mc_network import build_topology
    from mc_network.presets import paper_spec
    from mc_network.program import lower

    spec = paper_spec(preset, feedback)
    program = lower(spec, build_topology(spec))
    out = [
        f"The ``{preset}`` network with feedback ``{feedback}`` "
        f"(dims {tuple(spec.dims)}, dt {spec.dt:g}, activation ``{program.activation}``, "
        f"learning lag {program.lag_steps} steps, {program.n_draws} normal draws per step "
        "and batch member). One time step *k* runs:",
        "",
    ]
    rows = []
    for i, op in enumerate(program.synapses, 1):
        pre = op.model.pre_refs
        post = op.model.post_refs
        reads = [f"``{op.pre}.{v}`` [k−1]" for _, v in pre]
        reads += [f"``{op.post}.{v}`` [k−1]" for _, v in post]
        if op.model.vars:
            reads.append("own " + _code(op.model.var_names) + " [k−1]")
        frozen = " (never learns)" if "learning" in op.frozen else ""
        into = f"``{op.post}.{op.target}``" + (" (starts it from 0)" if op.first else " (+=)")
        conn = "one-to-one" if op.one_to_one else f"{op.n_pre}×{op.n_post}"
        rows.append(
            [
                str(i),
                f"``{op.projection}``: :ref:`{op.model.name} <model-{op.model.name}>`{frozen}",
                f"``{op.pre}`` → ``{op.post}``, {conn}",
                ", ".join(reads) or "—",
                into,
            ]
        )
    out += _table(
        "1. Synapses (in accumulation order), all on the neuron state after step k−1",
        ["#", "projection: model", "connection", "reads", "adds its output to"],
        rows,
    )
    sources: dict[tuple[str, str], list[str]] = {}
    for op in program.synapses:
        sources.setdefault((op.post, op.target), []).append(f"``{op.projection}``")
    rows = []
    for i, op in enumerate(program.neurons, 1):
        used = names(op.model.block)
        early = previous_step_reads(op.model.block)
        reads = []
        for inp in op.model.inputs:
            if inp not in used:
                continue
            src = sources.get((op.population, inp))
            reads.append(f"``{inp}`` = " + (" + ".join(src) + " [k]" if src else "0"))
        own = [v for v in op.model.var_names if v in early]
        if own:
            reads.append("own " + _code(own) + " [k−1]")
        if op.draws:
            reads.append(f"{op.draws} draw(s) per neuron at offset {op.noise_offset}")
        if op.data:
            reads.append(f"stage {op.data}")
        rows.append(
            [
                str(i),
                f"``{op.population}``: :ref:`{op.model.name} <model-{op.model.name}>`",
                str(op.size),
                "; ".join(reads) or "—",
            ]
        )
    out += _table(
        "2. Neurons (in update order), after every synapse of step k",
        ["#", "population: model", "size", "reads"],
        rows,
    )
    return out


class StepProgramDirective(_Generated):
    """``.. mc-step-program:: PRESET FEEDBACK`` — the per-step order of a preset network."""

    required_arguments = 2
    has_content = False
    sections = False

    def run(self) -> list[nodes.Node]:
        return self._parse(program_lines(*self.arguments))


PACKAGES = ("mc_models", "mc_network", "mc_experiments", "mc_analysis")


def public_modules(package: str) -> list[str]:
    """The package and its modules whose dotted names have no part starting with ``_``."""
    import pkgutil

    pkg = importlib.import_module(package)
    found = [package]
    for info in pkgutil.walk_packages(pkg.__path__, package + "."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            found.append(info.name)
    return found


def _write(path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _directive(obj) -> str:
    import inspect

    if inspect.isclass(obj):
        return "autoexception" if issubclass(obj, BaseException) else "autoclass"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return "autofunction"
    return "autodata"


@functools.cache
def public_names(package: str) -> tuple[str, ...]:
    """The names of a package's ``__all__`` (without ``__version__``)."""
    pkg = importlib.import_module(package)
    return tuple(n for n in getattr(pkg, "__all__", ()) if not n.startswith("_"))


def write_api_pages(app) -> None:
    """Write ``api/<package>.rst`` and one page per public module (git-ignored, regenerated).

    The package page documents the names of its ``__all__`` under the package's name (where
    users import them from: ``mc_network.build_network``); each module page documents the
    module's other public members (its ``__all__`` where it has one), so that nothing is
    documented twice.
    """
    from pathlib import Path

    out = Path(app.srcdir) / "api"
    out.mkdir(exist_ok=True)
    for package in PACKAGES:
        pkg = importlib.import_module(package)
        names = public_names(package)
        title = f"``{package}``"
        lines = [title, "=" * len(title), "", f".. automodule:: {package}", "   :no-members:", ""]
        lines += [".. autosummary::", "", *(f"   {n}" for n in names), ""]
        for name in names:
            lines += [f".. {_directive(getattr(pkg, name))}:: {package}.{name}", ""]
        modules = public_modules(package)[1:]
        lines += ["Modules", "-------", "", ".. toctree::", "   :maxdepth: 1", ""]
        lines += [f"   {m}" for m in modules]
        _write(out / f"{package}.rst", "\n".join(lines) + "\n")
        for module in modules:
            mod = importlib.import_module(module)
            # names the package exports are documented with the package, not again here
            shared = [n for n in names if getattr(mod, n, None) is getattr(pkg, n)]
            title = f"``{module}``"
            body = [title, "=" * len(title), "", f".. automodule:: {module}", "   :members:"]
            if shared:
                body.append("   :exclude-members: " + ", ".join(shared))
                also = ", ".join(f":obj:`{package}.{n}`" for n in shared)
                body += ["", f"Also here, documented with the package: {also}."]
            _write(out / f"{module}.rst", "\n".join(body) + "\n")


def resolve_exported(app, env, node, contnode):
    """Resolve a reference to a name the package exports at the place it is documented.

    The public names are documented under the package (``mc_analysis.read_sweep``); a
    docstring may name them by their module (``mc_analysis.rundir.read_sweep``) or, inside
    that module, bare (``read_sweep``, ``Run.entries``).
    """
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    module = node.get("py:module") or ""
    root = (target if target.startswith("mc_") else module).split(".")[0]
    if root not in PACKAGES:
        return None
    exported = set(public_names(root))
    parts = target.split(".")
    for i, part in enumerate(parts):
        if part in exported:
            new = ".".join([root, *parts[i:]])
            break
    else:
        return None
    if new == target:
        return None
    return env.get_domain("py").resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], new, node, contnode
    )


def setup(app):
    app.connect("builder-inited", write_api_pages, priority=100)
    app.connect("missing-reference", resolve_exported)
    app.add_directive("mc-models", ModelsDirective)
    app.add_directive("mc-step-program", StepProgramDirective)
    app.add_directive("mc-activations", ActivationsDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
