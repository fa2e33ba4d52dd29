"""Read runs of the original code (unibe-cns/pal_microcircuits_genn): config and recordings.

A run directory of the original holds ``config.yaml`` (``yaml.dump([meta, net])``, including
the data sets as NumPy objects in python tags) and ``net_recordings.h5`` with datasets
``/<stage>/<layer_idx>/<pop_or_syn_key>/<var>`` (stage in validation, training, testing;
float32, shape ``(rows, size)``).

The config is read safely (:mod:`mc_analysis.original_yaml`: the data arrays are rebuilt from
their bytes, nothing the file names is imported or called); the HDF5 file is opened only
inside ``with`` blocks, never left open::

    run = read_original_run("results/sweep_yin_yang_le_backw_seed_123456_2023-01-01_00-00-00")
    run.validation_accuracy()          # n_epochs + 1 values, index 0 = untrained network
    run.test_accuracy()
    angles, window = run.angles(1)     # W_ff(layer 2) vs B(layer 1), in degrees
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from mc_analysis.bounded import check_fits
from mc_analysis.metrics import (
    MAX_ELEMENTS,
    accuracy,
    alignment_angle,
    angle_window,
    rmse,
    window_means,
)
from mc_analysis.original_yaml import OriginalYAMLError, load_original_yaml

__all__ = [
    "STAGES",
    "Bookkeeping",
    "OriginalConfigError",
    "OriginalYAMLError",
    "OriginalRun",
    "bookkeeping_from_config",
    "load_original_config",
    "original_name",
    "read_original_run",
]

logger = logging.getLogger(__name__)

#: Stage names used as top-level groups of ``net_recordings.h5``.
STAGES = ("validation", "training", "testing")

CONFIG_NAME = "config.yaml"
#: File names tried for the recordings, in order (the README says ``net_recording.h5``).
H5_NAMES = ("net_recordings.h5", "net_recording.h5")

# Elements per block read from HDF5 when averaging weight recordings over windows (64 MiB of
# float32); keeps the 4 GB weight recordings of a full Yin-Yang run out of memory.
_BLOCK_ELEMENTS = 1 << 24


class OriginalConfigError(KeyError):
    """A key needed from an original ``config.yaml`` is missing or unusable."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


# --------------------------------------------------------------------------------- config


def load_original_config(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Load an original ``config.yaml`` (or config template) safely.

    Read with :func:`mc_analysis.original_yaml.load_original_yaml`: the data sets a run's
    config holds come back as NumPy arrays, rebuilt from their bytes; any other python
    object tag is refused.

    Parameters
    ----------
    path
        The ``config.yaml`` of a run (or an original config template).

    Returns
    -------
    meta, net : dict
        The two elements of the YAML list ``[meta_params, network_params]``.

    Raises
    ------
    OriginalYAMLError
        (a ``ValueError``) If the file is not valid YAML, holds a refused python tag or is not
        a list of two mappings.
    """
    path = Path(path)
    doc = load_original_yaml(path)
    if not isinstance(doc, list) or len(doc) != 2 or not all(isinstance(d, dict) for d in doc):
        raise OriginalYAMLError(
            f"{path}: expected a YAML list [meta_params, network_params] of two mappings, "
            f"got {type(doc).__name__}"
        )
    return doc[0], doc[1]


# ---------------------------------------------------------------------------- bookkeeping


@dataclass(frozen=True)
class Bookkeeping:
    """Index bookkeeping of an original run (``fill_out_config_template``).

    ``idx_*`` are time steps: ``idx_sample = int(pat_t/dt)``,
    ``idx_rec = max(1, idx_sample // recs_per_sample)``,
    ``idx_{train,valid,test} = int(n_class * n_{train,valid,test} * (pat_t/dt))``.
    ``n_train``, ``n_valid`` and ``n_test`` count samples per class.
    """

    dt: float
    pat_t: float
    recs_per_sample: int
    n_class: int
    n_train: int
    n_valid: int
    n_test: int
    n_epochs: int
    idx_sample: int
    idx_rec: int
    idx_train: int
    idx_valid: int
    idx_test: int

    @property
    def records_per_sample(self) -> int:
        """``n_r = idx_sample / idx_rec``, the records of each sample.

        Raises
        ------
        ValueError
            If ``idx_rec`` does not divide ``idx_sample`` (records then do not line up with
            samples and the per-sample metrics are undefined).
        """
        if self.idx_sample % self.idx_rec:
            raise ValueError(
                f"idx_rec={self.idx_rec} does not divide idx_sample={self.idx_sample}: "
                "records are not aligned with samples"
            )
        n_r = self.idx_sample // self.idx_rec
        if n_r != self.recs_per_sample:
            logger.warning(
                "records per sample: idx_sample/idx_rec = %d but recs_per_sample = %d; using %d "
                "(the original analyzer strode by recs_per_sample)",
                n_r,
                self.recs_per_sample,
                n_r,
            )
        return n_r

    @property
    def validation_rows(self) -> int:
        """Records per validation run (one chunk per epoch): ``idx_valid // idx_rec``."""
        return self.idx_valid // self.idx_rec

    @property
    def test_rows(self) -> int:
        """Records of the test run: ``idx_test // idx_rec``."""
        return self.idx_test // self.idx_rec

    @property
    def training_rows(self) -> int:
        """Records per training epoch: ``idx_train // idx_rec``."""
        return self.idx_train // self.idx_rec


_SIM_PLACES = ("meta.sim_config", "meta", "net", "net.sim_config")
_DT_PLACES = ("meta", "meta.sim_config", "net", "net.sim_config")
_NET_PLACES = ("net", "meta")


def _places(meta: Mapping[str, Any], net: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    def sub(d: Mapping[str, Any]) -> Mapping[str, Any]:
        s = d.get("sim_config")
        return s if isinstance(s, Mapping) else {}

    return {"meta": meta, "meta.sim_config": sub(meta), "net": net, "net.sim_config": sub(net)}


def _find(
    places: dict[str, Mapping[str, Any]], order: tuple[str, ...], key: str
) -> tuple[Any, str] | None:
    for where in order:
        value = places[where].get(key)
        if value is not None:
            return value, where
    return None


def _missing(key: str, order: tuple[str, ...], source: str, hint: str = "") -> OriginalConfigError:
    return OriginalConfigError(
        f"{source}: config key {key!r} is missing (looked in {', '.join(order)}){hint}"
    )


def _number(value: Any, key: str, where: str, source: str, kind: type) -> Any:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or (kind is int and number != int(number)):
        raise OriginalConfigError(
            f"{source}: config key {where}.{key} = {value!r} is not {kind.__name__}-valued"
        )
    return kind(number)


def bookkeeping_from_config(
    meta: Mapping[str, Any], net: Mapping[str, Any], source: str = CONFIG_NAME
) -> Bookkeeping:
    """Derive the index bookkeeping of a run from its config.

    Keys are looked up in ``meta["sim_config"]``, then ``meta``, then ``net`` (``dt`` in
    ``meta`` first). ``pat_t`` falls back to ``net["t_pattern"]`` and ``n_class`` to
    ``dims[-1]``. Filled-in ``idx_*`` values of a run's config are used as the original
    analyzer used them, with a warning if they disagree with the formulas.

    Parameters
    ----------
    meta, net
        The two halves of the config, as from :func:`load_original_config`.
    source
        Named in error messages (the config's path).

    Raises
    ------
    OriginalConfigError
        Naming the key and the file, if a needed key is missing or not a number.
    """
    places = _places(meta, net)

    def get(key: str, kind: type, order: tuple[str, ...] = _SIM_PLACES, *fallbacks: str) -> Any:
        found = _find(places, order, key)
        for alt in fallbacks:
            if found is not None:
                break
            found = _find(places, order, alt)
            if found is not None:
                logger.debug("%s: %r missing, using %r", source, key, alt)
        if found is None:
            raise _missing(key, order, source)
        return _number(found[0], key, found[1], source, kind)

    dt = get("dt", float, _DT_PLACES)
    pat_t = get("pat_t", float, _SIM_PLACES, "t_pattern")
    try:
        n_class = get("n_class", int)
    except OriginalConfigError:
        dims = _find(places, _NET_PLACES, "dims")
        if dims is None or not isinstance(dims[0], list | tuple) or not dims[0]:
            raise _missing(
                "n_class", _SIM_PLACES, source, " (and no 'dims' to fall back to)"
            ) from None
        n_class = _number(dims[0][-1], "dims[-1]", dims[1], source, int)
    counts = {k: get(k, int) for k in ("recs_per_sample", "n_train", "n_valid", "n_test")}
    n_epochs = get("n_epochs", int)

    steps = pat_t / dt
    computed = {"idx_sample": int(steps)}
    computed["idx_rec"] = max(1, computed["idx_sample"] // counts["recs_per_sample"])
    for key, n in (("idx_train", "n_train"), ("idx_valid", "n_valid"), ("idx_test", "n_test")):
        computed[key] = int(n_class * counts[n] * steps)
    idx = {}
    for key, value in computed.items():
        filled = _find(places, _SIM_PLACES, key)
        idx[key] = value
        if filled is not None:
            idx[key] = _number(filled[0], key, filled[1], source, int)
            if idx[key] != value:
                logger.warning(
                    "%s: %s = %d in the config but the bookkeeping formula gives %d; using %d",
                    source,
                    key,
                    idx[key],
                    value,
                    idx[key],
                )
    if idx["idx_rec"] < 1:
        raise OriginalConfigError(f"{source}: idx_rec = {idx['idx_rec']} must be >= 1")
    return Bookkeeping(dt=dt, pat_t=pat_t, n_class=n_class, n_epochs=n_epochs, **counts, **idx)


def original_name(key: str, layer: int, dims: list[int] | tuple[int, ...]) -> str | None:
    """The toolkit owner of an original population or synapse key (``None``: not comparable).

    Parameters
    ----------
    key
        The original's key in its layer (``pyramidal``, ``inter``, ``ff``, ``fb``, ``p2i``,
        ``i2p``, ``bias_to_pyr``, ``bias_to_inter``, ``input``, ``output``, ``supervisor``).
    layer
        The original's layer index (0 input, 1.. hidden, ``len(dims) - 1`` output,
        ``len(dims)`` supervisor).
    dims
        The layer sizes.
    """
    n_out = len(dims) - 1
    if layer == 0:
        return "input" if key == "input" else None
    if layer == n_out + 1:
        return "teacher" if key == "supervisor" else None
    if layer == n_out:
        return {"output": "output", "ff": f"ff_{layer}"}.get(key)  # fb there is the teacher's
    names = {
        "pyramidal": f"pyramidal_{layer}",
        "inter": f"inter_{layer}",
        "ff": f"ff_{layer}",
        "fb": f"fb_{layer}",
        "p2i": f"p2i_{layer}",
        "i2p": f"i2p_{layer}",
        "bias_to_pyr": f"bias_pyr_{layer}",
        "bias_to_inter": f"bias_inter_{layer}",
    }
    return names.get(key)


# ----------------------------------------------------------------------------------- runs

#: ``layout[stage][layer][key][var]`` is the shape of that dataset.
Layout = dict[str, dict[int, dict[str, dict[str, tuple[int, ...]]]]]


def _scan_layout(f: h5py.File, path: Path) -> Layout:
    layout: Layout = {}
    for stage, g_stage in f.items():
        if not isinstance(g_stage, h5py.Group):
            continue
        layers = layout.setdefault(stage, {})
        for layer_name, g_layer in g_stage.items():
            try:
                layer = int(layer_name)
            except ValueError:
                logger.warning("%s: skipping /%s/%s (not a layer index)", path, stage, layer_name)
                continue
            if not isinstance(g_layer, h5py.Group):
                continue
            keys = layers.setdefault(layer, {})
            for key, g_key in g_layer.items():
                if isinstance(g_key, h5py.Group):
                    keys[key] = {
                        var: _recording_shape(ds, path)
                        for var, ds in g_key.items()
                        if isinstance(ds, h5py.Dataset)
                    }
    return layout


def _recording_shape(ds: h5py.Dataset, path: Path) -> tuple[int, ...]:
    """The shape of a recorded dataset, which must hold numbers in rows: ``(rows, size)``."""
    if ds.dtype.kind not in "biuf" or ds.ndim != 2:
        raise ValueError(
            f"{path}: {ds.name} holds {ds.dtype} data of shape {ds.shape}, not numbers in "
            "(rows, size): not a recording of the original code"
        )
    return tuple(ds.shape)


def _rows(ds: h5py.Dataset, start: int, stop: int, path: Path) -> np.ndarray:
    """Rows ``start:stop`` of a dataset, refused when they would not fit in memory."""
    cols = int(np.prod(ds.shape[1:], dtype=np.int64))
    check_fits(max(0, stop - start) * cols * ds.dtype.itemsize, f"{path}: {ds.name}")
    return ds[start:stop]


def _window_means_from_dataset(
    ds: h5py.Dataset, window_size: int, n_windows: int, block_elements: int = _BLOCK_ELEMENTS
) -> np.ndarray:
    """:func:`~mc_analysis.metrics.window_means` of an HDF5 dataset, read block by block.

    Windows that fit in a block are averaged exactly as ``window_means`` does; a window
    larger than a block is summed block by block in float64 and divided by its size (equal to
    ``window_means`` up to float64 round-off).
    """
    cols = int(np.prod(ds.shape[1:], dtype=np.int64))
    means = np.empty((n_windows,) + tuple(ds.shape[1:]), dtype=np.float64)
    rows_per_block = max(1, block_elements // max(1, cols))
    if window_size <= rows_per_block:
        per_block = rows_per_block // window_size
        for j0 in range(0, n_windows, per_block):
            j1 = min(n_windows, j0 + per_block)
            block = ds[j0 * window_size : j1 * window_size]
            means[j0:j1] = window_means(block, window_size, j1 - j0)
        return means
    for j in range(n_windows):
        total = np.zeros(ds.shape[1:], dtype=np.float64)
        end = (j + 1) * window_size
        for r0 in range(j * window_size, end, rows_per_block):
            total += ds[r0 : min(end, r0 + rows_per_block)].sum(axis=0, dtype=np.float64)
        means[j] = total / window_size
    return means


@dataclass(frozen=True, eq=False)
class OriginalRun:
    """A run directory of the original code.

    Attributes
    ----------
    run_dir
        The directory.
    config_path, h5_path
        Its ``config.yaml`` and recordings file.
    meta, net
        The two halves of the config (the data arrays of a run as NumPy arrays).
    layout
        ``layout[stage][layer][key][var]`` = shape ``(rows, size)`` of every dataset.
    """

    run_dir: Path
    config_path: Path
    h5_path: Path
    meta: dict[str, Any]
    net: dict[str, Any]
    layout: Layout
    _warned: set[str] = field(default_factory=set, repr=False)

    # -- access ---------------------------------------------------------------------------

    @contextmanager
    def _open(self) -> Iterator[h5py.File]:
        with h5py.File(self.h5_path, "r") as f:
            yield f

    def _path(self, stage: str, layer: int | str, key: str, var: str) -> str:
        """Validate a dataset address against the layout; return its HDF5 path."""
        where = f"{self.h5_path}"
        if stage not in self.layout:
            raise KeyError(f"{where}: no stage {stage!r}; stages: {sorted(self.layout)}")
        layers = self.layout[stage]
        try:
            lyr = int(layer)
        except (TypeError, ValueError):
            lyr = None
        if lyr not in layers:
            raise KeyError(
                f"{where}: stage {stage!r} has no layer {layer!r}; layers: {sorted(layers)}"
            )
        keys = layers[lyr]
        if key not in keys:
            raise KeyError(
                f"{where}: /{stage}/{lyr} has no {key!r}; it has: "
                + "; ".join(f"{k}: {sorted(v)}" for k, v in sorted(keys.items()))
            )
        if var not in keys[key]:
            raise KeyError(
                f"{where}: /{stage}/{lyr}/{key} has no {var!r}; vars: {sorted(keys[key])}"
            )
        return f"/{stage}/{lyr}/{key}/{var}"

    def shape(self, stage: str, layer: int | str, key: str, var: str) -> tuple[int, ...]:
        """Shape ``(rows, size)`` of a dataset (KeyError listing what exists if absent)."""
        self._path(stage, layer, key, var)
        return self.layout[stage][int(layer)][key][var]

    def dataset(
        self, stage: str, layer: int | str, key: str, var: str, rows: slice | None = None
    ) -> np.ndarray:
        """Read ``/<stage>/<layer>/<key>/<var>`` (float32, ``(rows, size)``).

        Parameters
        ----------
        stage
            ``"validation"``, ``"training"`` or ``"testing"``.
        layer
            Layer index (0 input, ..., output, supervisor).
        key
            Population or synapse key, e.g. ``"output"``, ``"supervisor"``, ``"fb"``, ``"ff"``.
        var
            Variable, e.g. ``"v_brev"``, ``"rate"``, ``"g"``.
        rows
            Optional slice of rows to read instead of all of them.

        Raises
        ------
        KeyError
            Naming the file and listing what exists at the level where the lookup failed.
        """
        path = self._path(stage, layer, key, var)
        with self._open() as f:
            ds = f[path]
            start, stop, _ = (slice(None) if rows is None else rows).indices(ds.shape[0])
            return np.asarray(_rows(ds, start, stop, self.h5_path))

    def layers(self, stage: str = "validation") -> list[int]:
        """Sorted layer indices recorded in a stage."""
        if stage not in self.layout:
            raise KeyError(f"{self.h5_path}: no stage {stage!r}; stages: {sorted(self.layout)}")
        return sorted(self.layout[stage])

    def _layer_with(self, key: str) -> int:
        found = sorted(
            {lyr for stage in self.layout.values() for lyr, keys in stage.items() if key in keys}
        )
        if len(found) != 1:
            what = "no layer" if not found else f"several layers {found}"
            raise KeyError(f"{self.h5_path}: {what} with a recorded {key!r} population")
        return found[0]

    def output_layer(self) -> int:
        """Index of the layer holding the ``output`` population."""
        return self._layer_with("output")

    def supervisor_layer(self) -> int:
        """Index of the layer holding the ``supervisor`` population (the teacher)."""
        return self._layer_with("supervisor")

    @property
    def bookkeeping(self) -> Bookkeeping:
        """Index bookkeeping from the config (see ``bookkeeping_from_config``)."""
        return bookkeeping_from_config(self.meta, self.net, str(self.config_path))

    def dims(self) -> list[int]:
        """Layer sizes ``dims`` of the network (e.g. ``[4, 30, 3]``)."""
        found = _find(_places(self.meta, self.net), _NET_PLACES, "dims")
        if found is None or not isinstance(found[0], list | tuple):
            raise _missing("dims", _NET_PLACES, str(self.config_path))
        return [_number(d, "dims", found[1], str(self.config_path), int) for d in found[0]]

    # -- metrics --------------------------------------------------------------------------

    def _output_and_teacher_paths(self, stage: str) -> tuple[str, str]:
        out = self._path(stage, self.output_layer(), "output", "v_brev")
        sup = self._path(stage, self.supervisor_layer(), "supervisor", "rate")
        return out, sup

    def _per_validation_chunk(self, fn: Callable[[np.ndarray, np.ndarray], float]) -> np.ndarray:
        bk = self.bookkeeping
        chunk = bk.validation_rows
        out_path, sup_path = self._output_and_teacher_paths("validation")
        with self._open() as f:
            out, sup = f[out_path], f[sup_path]
            if out.shape != sup.shape:
                raise ValueError(
                    f"{self.h5_path}: {out_path} {out.shape} and {sup_path} {sup.shape} differ"
                )
            n_rows = out.shape[0]
            n_chunks = n_rows // chunk if chunk else 0
            if n_rows != n_chunks * chunk or n_chunks != bk.n_epochs + 1:
                logger.warning(
                    "%s: %d validation records = %d chunks of %d (+%d left over); expected "
                    "n_epochs + 1 = %d chunks%s",
                    self.h5_path,
                    n_rows,
                    n_chunks,
                    chunk,
                    n_rows - n_chunks * chunk,
                    bk.n_epochs + 1,
                    "; the chunks beyond are not read" if n_chunks > bk.n_epochs + 1 else "",
                )
            n_chunks = min(n_chunks, bk.n_epochs + 1)  # what the config's protocol recorded
            values = [
                fn(
                    _rows(out, i * chunk, (i + 1) * chunk, self.h5_path),
                    _rows(sup, i * chunk, (i + 1) * chunk, self.h5_path),
                )
                for i in range(n_chunks)
            ]
        return np.asarray(values, dtype=np.float64)

    def validation_accuracy(self) -> np.ndarray:
        """Compute the validation accuracy (%) per epoch: ``n_epochs + 1`` values, 0 untrained.

        Each chunk of ``idx_valid // idx_rec`` validation records is scored with
        :func:`~mc_analysis.metrics.accuracy` (``n_r = idx_sample / idx_rec`` records per
        sample, the first one dropped). Only complete chunks are scored (a warning is logged
        if the count is not ``n_epochs + 1``, e.g. for an interrupted run).
        """
        n_r = self.bookkeeping.records_per_sample
        return self._per_validation_chunk(lambda o, s: self._accuracy(o, s, n_r, "validation"))

    def _accuracy(self, out: np.ndarray, sup: np.ndarray, n_r: int, stage: str) -> float:
        """:func:`~mc_analysis.metrics.accuracy`, saying when records are not finite."""
        out, sup = np.asarray(out), np.asarray(sup)
        if not (np.isfinite(out).all() and np.isfinite(sup).all()) and stage not in self._warned:
            self._warned.add(stage)
            logger.warning(
                "%s: %s output or teacher records hold NaN or inf (a diverged run?): those "
                "samples count as misclassified",
                self.h5_path,
                stage,
            )
        return accuracy(out, sup, n_r)

    def validation_rmse(self) -> np.ndarray:
        """Compute the original's "Mean Square Error validation" (an RMSE) per validation chunk."""
        return self._per_validation_chunk(rmse)

    def test_accuracy(self) -> float:
        """Test accuracy (%) over the single test chunk."""
        bk = self.bookkeeping
        n_r = bk.records_per_sample
        out_path, sup_path = self._output_and_teacher_paths("testing")
        with self._open() as f:
            n_rows = f[out_path].shape[0]
            if n_rows != bk.test_rows:
                logger.warning(
                    "%s: %d test records, expected idx_test // idx_rec = %d%s",
                    self.h5_path,
                    n_rows,
                    bk.test_rows,
                    "; the records beyond are not read" if n_rows > bk.test_rows else "",
                )
            out, sup = (_rows(f[p], 0, bk.test_rows, self.h5_path) for p in (out_path, sup_path))
        return self._accuracy(out, sup, n_r, "test")

    def angles(self, layer: int, max_elements: int = MAX_ELEMENTS) -> tuple[np.ndarray, int]:
        """Alignment angle (degrees) between ``B`` of ``layer`` and ``W^T`` of the layer above.

        ``W`` = training ``ff.g`` of layer ``layer + 1``, rows reshaped to
        ``(n_pyr, n_next)``; ``B`` = training ``fb.g`` of ``layer``, rows reshaped to
        ``(n_next, n_pyr)``, with ``n_pyr = dims[layer]``, ``n_next = dims[layer + 1]``.
        Records are averaged over the windows of :func:`~mc_analysis.metrics.angle_window`
        (read from the file block by block), as in
        :func:`~mc_analysis.metrics.windowed_angle`.

        Returns
        -------
        angles : numpy.ndarray
            ``(n_windows,)`` in degrees.
        window_size : int
            Records per window.
        """
        return self._angles(layer, max_elements, _BLOCK_ELEMENTS)

    def _angles(self, layer: int, max_elements: int, block_elements: int) -> tuple[np.ndarray, int]:
        layer = int(layer)
        dims = self.dims()
        if not 0 < layer < len(dims) - 1:
            raise ValueError(f"angles: layer {layer} has no layer above it in dims {dims}")
        n_pyr, n_next = dims[layer], dims[layer + 1]
        fb_path = self._path("training", layer, "fb", "g")
        ff_path = self._path("training", layer + 1, "ff", "g")
        with self._open() as f:
            fb, ff = f[fb_path], f[ff_path]
            cols = n_pyr * n_next
            if fb.shape != ff.shape or fb.ndim != 2 or fb.shape[1] != cols:
                raise ValueError(
                    f"{self.h5_path}: {fb_path} {fb.shape} and {ff_path} {ff.shape} must both "
                    f"be (rows, {cols}) for dims {n_pyr} x {n_next}"
                )
            # the training epochs the config's protocol recorded, not rows declared beyond
            rows = min(fb.shape[0], self.bookkeeping.n_epochs * self.bookkeeping.training_rows)
            ws, n_w = angle_window(rows, cols, max_elements)
            w = _window_means_from_dataset(ff, ws, n_w, block_elements)
            b = _window_means_from_dataset(fb, ws, n_w, block_elements)
        angles = alignment_angle(w.reshape(n_w, n_pyr, n_next), b.reshape(n_w, n_next, n_pyr))
        return np.asarray(angles, dtype=np.float64).reshape(n_w), ws


def _find_h5(run_dir: Path, meta: Mapping[str, Any]) -> Path:
    names = list(H5_NAMES)
    record = meta.get("record")
    stored = record.get("filename") if isinstance(record, Mapping) else None
    if isinstance(stored, str) and stored:
        names.insert(1, Path(stored).name)
    for name in names:
        if (run_dir / name).is_file():
            return run_dir / name
    raise FileNotFoundError(f"{run_dir}: no recordings file (tried {', '.join(names)})")


def read_original_run(run_dir: str | Path, *, h5_path: str | Path | None = None) -> OriginalRun:
    """Open a run directory of the original code.

    Reads ``config.yaml`` safely and the layout (names and shapes) of the recordings; data
    are read later, on demand.

    Parameters
    ----------
    run_dir
        The run directory (``<basepath><name>_<date>/``).
    h5_path
        The recordings file, if not ``run_dir/net_recordings.h5`` (or the file name stored
        in the config's ``record.filename``, looked for in ``run_dir``).

    Raises
    ------
    FileNotFoundError
        If the config or the recordings are missing.
    """
    run_dir = Path(run_dir)
    config_path = run_dir / CONFIG_NAME
    if not config_path.is_file():
        raise FileNotFoundError(f"{run_dir}: no {CONFIG_NAME}")
    meta, net = load_original_config(config_path)
    h5 = Path(h5_path) if h5_path is not None else _find_h5(run_dir, meta)
    with h5py.File(h5, "r") as f:
        layout = _scan_layout(f, h5)
    logger.debug("%s: stages %s", h5, {s: sorted(v) for s, v in layout.items()})
    return OriginalRun(run_dir, config_path, h5, meta, net, layout)
