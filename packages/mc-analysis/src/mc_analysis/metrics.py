"""Pure metrics on recorded arrays: accuracy, errors, alignment angles, self-prediction.

Every function takes NumPy arrays and returns arrays or floats; nothing here reads files,
keeps state or logs. The formulas are those of the original analysis
(``genn_models/analyzer.py`` of unibe-cns/pal_microcircuits_genn). Recordings are 2-D,
``(n_rows, n)``: one row per record, in time order; a batch axis, where there is one, is the
caller's to loop over.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "accuracy",
    "alignment_angle",
    "angle_window",
    "labels_from_teacher",
    "mae",
    "per_class_counts",
    "predictions",
    "rate_mismatch",
    "rmse",
    "sample_view",
    "self_prediction_errors",
    "window_means",
    "windowed_angle",
]

#: The original's ``Analyzer.MAX_PLOT_POINTS``: above this many elements a weight recording
#: is averaged over windows of records before angles are taken.
MAX_ELEMENTS = 100_000


def _as_2d(name: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (rows, n), got shape {x.shape}")
    return x


def _same_shape(names: tuple[str, str], a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} has shape {a.shape} but {names[1]} has shape {b.shape}")


def sample_view(records: np.ndarray, records_per_sample: int) -> np.ndarray:
    """Group consecutive records by sample.

    Parameters
    ----------
    records
        ``(n_rows, n)``, the records of one stage (or one chunk of it) in time order, with
        ``n_rows = n_samples * records_per_sample``.
    records_per_sample
        ``n_r``, the number of records per sample (``idx_sample / idx_rec``; 5 in the
        shipped configs).

    Returns
    -------
    numpy.ndarray
        ``(n_samples, n_r, n)``; a view of ``records`` where NumPy can make one.

    Raises
    ------
    ValueError
        If ``records`` is not 2-D, ``records_per_sample < 1``, or ``n_rows`` is not a multiple
        of ``records_per_sample``.
    """
    records = _as_2d("records", records)
    n_r = int(records_per_sample)
    if n_r != records_per_sample or n_r < 1:
        raise ValueError(f"records_per_sample must be a positive integer, got {records_per_sample}")
    n_rows, n = records.shape
    if n_rows % n_r:
        raise ValueError(
            f"{n_rows} records are not a whole number of samples of {n_r} records each "
            f"({n_rows} % {n_r} = {n_rows % n_r})"
        )
    return records.reshape(n_rows // n_r, n_r, n)


def _evaluation_window(per_sample: np.ndarray) -> np.ndarray:
    """Select records 1..n_r-1 of each sample (all of them when n_r == 1)."""
    return per_sample if per_sample.shape[1] == 1 else per_sample[:, 1:, :]


def predictions(output_v_brev: np.ndarray, records_per_sample: int) -> np.ndarray:
    r"""Predicted class of each sample from the output neurons' prospective voltage.

    .. math:: \hat y_s = \operatorname{argmax}_c \frac{1}{n_r - 1}
              \sum_{k=1}^{n_r - 1} \breve v_{c}[s n_r + k]

    The first record of each sample (made after the sample's first time step, when the
    output still shows the previous sample) is dropped; with ``n_r == 1`` that single record
    is used. The mean is taken in float64 (the original averaged the float32 records in
    float32; the two can only disagree on an exact tie to float32 round-off). A sample whose
    mean is not finite in some class (NaN or inf records: a diverged network) has no
    prediction, ``-1``: ``argmax`` would pick the first NaN and call it class 0.

    Parameters
    ----------
    output_v_brev
        ``(n_samples * n_r, n_classes)``, output ``v_brev`` records.
    records_per_sample
        ``n_r``.

    Returns
    -------
    numpy.ndarray
        ``(n_samples,)`` int64 class indices (ties resolved to the lowest index), ``-1`` where
        the records are not finite.
    """
    window = _evaluation_window(sample_view(output_v_brev, records_per_sample))
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: no prediction, below
        return _argmax_finite(window.mean(axis=1, dtype=np.float64))


def _argmax_finite(x: np.ndarray) -> np.ndarray:
    """``argmax`` over the last axis; ``-1`` for rows that hold a NaN or an infinity."""
    finite = np.isfinite(x).all(axis=-1)
    return np.where(finite, np.argmax(np.where(finite[..., None], x, 0.0), axis=-1), -1)


def labels_from_teacher(teacher_rates: np.ndarray, records_per_sample: int) -> np.ndarray:
    r"""Find the true class of each sample from the supervisor's (teacher's) rates.

    .. math:: y_s = \operatorname{argmax}_c \max_{1 \le k \le n_r - 1} r^{sup}_c[s n_r + k]

    The same records as in :func:`predictions` are used (the original drops the first
    record of a sample for the label too); with ``n_r == 1`` the single record is used.

    Parameters
    ----------
    teacher_rates
        ``(n_samples * n_r, n_classes)``, supervisor ``rate`` records.
    records_per_sample
        ``n_r``.

    Returns
    -------
    numpy.ndarray
        ``(n_samples,)`` int64 class indices, ``-1`` where the teacher's records are not
        finite.
    """
    window = _evaluation_window(sample_view(teacher_rates, records_per_sample))
    with np.errstate(invalid="ignore"):
        return _argmax_finite(window.max(axis=1))


def accuracy(
    output_v_brev: np.ndarray, teacher_rates: np.ndarray, records_per_sample: int
) -> float:
    r"""Classification accuracy in percent, the original's method.

    .. math:: \mathrm{acc} = 100 \cdot \frac{\#\{s : \hat y_s = y_s\}}{n_{samples}}

    with :math:`\hat y_s` from :func:`predictions` and :math:`y_s` from
    :func:`labels_from_teacher`. A sample without a prediction or a label (records that are
    not finite) counts as wrong, so a diverged run scores 0 %, not the share of class 0.

    Parameters
    ----------
    output_v_brev, teacher_rates
        ``(n_samples * n_r, n_classes)`` each, the records of one validation chunk (one
        epoch's validation) or of the test.
    records_per_sample
        ``n_r``.

    Returns
    -------
    float
        Accuracy in percent; nan for zero samples.
    """
    out = _as_2d("output_v_brev", output_v_brev)
    sup = _as_2d("teacher_rates", teacher_rates)
    _same_shape(("output_v_brev", "teacher_rates"), out, sup)
    pred = predictions(out, records_per_sample)
    if pred.size == 0:
        return float("nan")
    labels = labels_from_teacher(sup, records_per_sample)
    return 100.0 * float(np.count_nonzero((pred == labels) & (pred >= 0))) / pred.size


def per_class_counts(pred: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    r"""Confusion matrix.

    .. math:: C_{ij} = \#\{s : y_s = i,\ \hat y_s = j\}

    Rows are true classes, columns predicted classes; ``trace(C) / C.sum()`` is the
    accuracy as a fraction. Samples without a prediction or a label (``-1``: records that
    are not finite) are not counted.

    Parameters
    ----------
    pred, labels
        ``(n_samples,)`` integer class indices in ``[0, n_classes)``.
    n_classes
        Number of classes.

    Returns
    -------
    numpy.ndarray
        ``(n_classes, n_classes)`` int64 counts.
    """
    pred = np.asarray(pred)
    labels = np.asarray(labels)
    if pred.ndim != 1 or pred.shape != labels.shape:
        raise ValueError(f"pred {pred.shape} and labels {labels.shape} must be equal 1-D shapes")
    for name, x in (("pred", pred), ("labels", labels)):
        if x.size and (x.min() < -1 or x.max() >= n_classes):
            raise ValueError(f"{name} has class indices outside [0, {n_classes}) (or -1)")
    known = (pred >= 0) & (labels >= 0)
    pred, labels = pred[known], labels[known]
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (labels.astype(np.int64), pred.astype(np.int64)), 1)
    return counts


def rmse(output_v_brev: np.ndarray, teacher_rates: np.ndarray) -> float:
    r"""Root mean square error between output voltage and teacher rate.

    .. math:: \mathrm{RMSE} = \sqrt{\frac{1}{N n}\sum_{t=1}^{N}\sum_{c=1}^{n}
              (\breve v_c[t] - r^{sup}_c[t])^2}

    over all rows (first records of the samples included) and outputs, in float64. This is
    the original's "Mean Square Error validation" (``get_error_signal``), which is an RMSE.

    Parameters
    ----------
    output_v_brev, teacher_rates
        Arrays of equal shape, e.g. ``(rows, n_classes)``.

    Returns
    -------
    float
        The RMSE; nan for empty input.
    """
    v = np.asarray(output_v_brev, dtype=np.float64)
    r = np.asarray(teacher_rates, dtype=np.float64)
    _same_shape(("output_v_brev", "teacher_rates"), v, r)
    if v.size == 0:
        return float("nan")
    return float(np.sqrt(np.mean((v - r) ** 2)))


def mae(output_v_brev: np.ndarray, teacher_rates: np.ndarray) -> float:
    r"""Mean absolute error between output voltage and teacher rate.

    .. math:: \mathrm{MAE} = \frac{1}{N n}\sum_{t=1}^{N}\sum_{c=1}^{n}
              |\breve v_c[t] - r^{sup}_c[t]|

    over all rows and outputs, in float64. This is the "MSE" the original prints at run time
    (``Network._evaluate_validation``), which is a mean absolute error.

    Parameters
    ----------
    output_v_brev, teacher_rates
        Arrays of equal shape.

    Returns
    -------
    float
        The MAE; nan for empty input.
    """
    v = np.asarray(output_v_brev, dtype=np.float64)
    r = np.asarray(teacher_rates, dtype=np.float64)
    _same_shape(("output_v_brev", "teacher_rates"), v, r)
    if v.size == 0:
        return float("nan")
    return float(np.mean(np.abs(v - r)))


def alignment_angle(W: np.ndarray, B: np.ndarray) -> float | np.ndarray:
    r"""Angle in degrees between the feedback matrix and the transposed forward matrix.

    .. math:: \theta = \frac{180}{\pi}\arccos
              \frac{\operatorname{tr}(W^\top B^\top)}{\|W\|_F\,\|B\|_F},
              \qquad \operatorname{tr}(W^\top B^\top) = \sum_{ij} W_{ij} B_{ji}

    i.e. the angle between :math:`W` and :math:`B^\top` as vectors. 0 degrees means
    :math:`B \propto W^\top` (backpropagation), 90 degrees orthogonal, 180 degrees
    :math:`B \propto -W^\top`. Computed in float64, with the cosine clipped to [-1, 1]. Near
    0 and 180 degrees the arccos resolves angles only to about 1e-6 degrees (float64 round-off
    of the cosine), as in the original.

    Parameters
    ----------
    W
        Forward weights of the layer above, stored pre-major: ``(n_lower, n_upper)``, or
        ``(..., n_lower, n_upper)`` with leading axes (e.g. records).
    B
        Feedback weights ``(n_upper, n_lower)`` (pre = upper), or
        ``(..., n_upper, n_lower)`` with the same leading axes.

    Returns
    -------
    float or numpy.ndarray
        A float for 2-D input, else an array of the leading shape. nan (without a warning)
        where ``W`` or ``B`` is all zeros.

    Raises
    ------
    ValueError
        If the shapes do not match as described.
    """
    W = np.asarray(W, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if W.ndim < 2 or B.ndim != W.ndim or B.shape != W.shape[:-2] + W.shape[-1:-3:-1]:
        raise ValueError(
            f"alignment_angle: W must be (..., n_lower, n_upper) and B (..., n_upper, n_lower) "
            f"with the same leading axes; got W {W.shape} and B {B.shape}"
        )
    Bt = np.swapaxes(B, -1, -2)
    dot = np.sum(W * Bt, axis=(-2, -1))
    norms = np.sqrt(np.sum(W * W, axis=(-2, -1))) * np.sqrt(np.sum(Bt * Bt, axis=(-2, -1)))
    cos = np.full(np.shape(dot), np.nan)
    np.divide(dot, norms, out=cos, where=norms > 0)
    angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    return float(angle) if angle.ndim == 0 else angle


def angle_window(rows: int, cols: int, max_elements: int = MAX_ELEMENTS) -> tuple[int, int]:
    r"""Window size and number of windows of the original's downsampling.

    If ``rows * cols > max_elements``:

    .. math:: w = \left\lceil \frac{\text{rows}}{\text{max\_elements} / \text{cols}}
              \right\rceil, \qquad n_w = \max(1, \lfloor \text{rows} / w \rfloor)

    (evaluated in floating point exactly as the original's ``_get_plot_partitions``);
    otherwise ``w = 1`` and ``n_w = rows``. Trailing rows beyond ``n_w * w`` are dropped.

    Examples
    --------
    Yin-Yang (12 000 000 training records of 90 weights) and MNIST (25 M of 1000):

    >>> angle_window(12_000_000, 90)
    (10800, 1111)
    >>> angle_window(25_000_000, 1000)
    (250000, 100)

    Parameters
    ----------
    rows
        Number of records.
    cols
        Elements per record (``n_lower * n_upper``).
    max_elements
        Threshold on ``rows * cols``.

    Returns
    -------
    tuple of int
        ``(window_size, n_windows)``.
    """
    if rows < 0 or cols < 1 or max_elements < 1:
        raise ValueError(f"angle_window: rows={rows}, cols={cols}, max_elements={max_elements}")
    if rows * cols <= max_elements:
        return 1, rows
    window_size = int(math.ceil(rows / (max_elements / cols)))
    return window_size, max(1, rows // window_size)


def window_means(x: np.ndarray, window_size: int, n_windows: int) -> np.ndarray:
    r"""Means over consecutive non-overlapping windows of rows, in float64.

    .. math:: \bar x_j = \frac{1}{w} \sum_{t = j w}^{(j+1) w - 1} x_t,
              \qquad j = 0, \dots, n_w - 1

    Parameters
    ----------
    x
        ``(rows, ...)`` with ``rows >= window_size * n_windows``; trailing rows are ignored.
    window_size, n_windows
        As returned by :func:`angle_window`.

    Returns
    -------
    numpy.ndarray
        ``(n_windows, ...)`` float64.
    """
    x = np.asarray(x)
    used = window_size * n_windows
    if x.shape[0] < used:
        raise ValueError(f"window_means: {x.shape[0]} rows < {n_windows} windows x {window_size}")
    if window_size == 1:
        return x[:used].astype(np.float64)
    blocks = x[:used].reshape((n_windows, window_size) + x.shape[1:])
    return blocks.mean(axis=1, dtype=np.float64)


def windowed_angle(
    W_rows: np.ndarray,
    B_rows: np.ndarray,
    max_elements: int = MAX_ELEMENTS,
) -> tuple[np.ndarray, int]:
    r"""Alignment angle over a recording, downsampled as in the original.

    The records are averaged over the windows of :func:`angle_window` (with
    ``cols = n_lower * n_upper``), then :func:`alignment_angle` is taken between the
    window-mean matrices :math:`\bar W_j` and :math:`\bar B_j`.

    Parameters
    ----------
    W_rows
        ``(rows, n_lower, n_upper)``, forward weights of the layer above per record (the
        original's ``ff.g`` rows reshaped to ``(n_pyr, n_next)``).
    B_rows
        ``(rows, n_upper, n_lower)``, feedback weights per record (``fb.g`` rows reshaped to
        ``(n_next, n_pyr)``).
    max_elements
        Downsampling threshold on ``rows * cols``.

    Returns
    -------
    angles : numpy.ndarray
        ``(n_windows,)`` in degrees.
    window_size : int
        Records per window (1 when no downsampling was needed).
    """
    W_rows = np.asarray(W_rows)
    B_rows = np.asarray(B_rows)
    if W_rows.ndim != 3 or B_rows.shape != (W_rows.shape[0],) + W_rows.shape[:0:-1]:
        raise ValueError(
            "windowed_angle: W_rows must be (rows, n_lower, n_upper) and B_rows "
            f"(rows, n_upper, n_lower); got {W_rows.shape} and {B_rows.shape}"
        )
    rows, n_lower, n_upper = W_rows.shape
    ws, n_w = angle_window(rows, n_lower * n_upper, max_elements)
    angles = alignment_angle(window_means(W_rows, ws, n_w), window_means(B_rows, ws, n_w))
    return np.asarray(angles, dtype=np.float64).reshape(n_w), ws


def self_prediction_errors(
    w_up: np.ndarray, w_p2i: np.ndarray, b: np.ndarray, w_i2p: np.ndarray
) -> dict[str, float]:
    r"""How far the lateral weights are from the self-predicting state.

    In the self-predicting state :math:`W^{PI} = W^{up}` (pyramidal->interneuron copies the
    forward weights of the layer above) and :math:`W^{IP} = -B` (interneuron->pyramidal
    cancels the feedback). Reported:

    .. math:: \overline{|W^{up} - W^{PI}|}, \ \max|W^{up} - W^{PI}|, \
              \overline{|B + W^{IP}|}, \ \max|B + W^{IP}|

    over all elements (and records, if the arrays have a records axis), in float64.

    Parameters
    ----------
    w_up, w_p2i
        Forward weights of the layer above, ``(n_pyr, n_next)``, and pyramidal->interneuron
        weights, ``(n_pyr, n_inter)`` with ``n_inter = n_next``; the same shape, flat rows
        ``(records, n_pyr * n_next)`` allowed (both are stored pre-major).
    b, w_i2p
        Feedback ``(n_next, n_pyr)`` and interneuron->pyramidal ``(n_inter, n_pyr)``; the same
        shape, flat rows allowed.

    Returns
    -------
    dict
        ``ff_p2i_mean_abs``, ``ff_p2i_max_abs``, ``fb_i2p_mean_abs``, ``fb_i2p_max_abs``
        (nan for empty arrays).
    """
    w_up, w_p2i, b, w_i2p = (np.asarray(x, dtype=np.float64) for x in (w_up, w_p2i, b, w_i2p))
    _same_shape(("w_up", "w_p2i"), w_up, w_p2i)
    _same_shape(("b", "w_i2p"), b, w_i2p)
    d_ff = np.abs(w_up - w_p2i)
    d_fb = np.abs(b + w_i2p)

    def _stats(d: np.ndarray) -> tuple[float, float]:
        return (float(d.mean()), float(d.max())) if d.size else (float("nan"), float("nan"))

    ff_mean, ff_max = _stats(d_ff)
    fb_mean, fb_max = _stats(d_fb)
    return {
        "ff_p2i_mean_abs": ff_mean,
        "ff_p2i_max_abs": ff_max,
        "fb_i2p_mean_abs": fb_mean,
        "fb_i2p_max_abs": fb_max,
    }


def rate_mismatch(r_upper: np.ndarray, r_inter: np.ndarray) -> np.ndarray:
    r"""Signed difference between the upper layer's rates and the interneurons' rates.

    .. math:: \Delta r = r^{next} - r^{I}

    Near zero in the self-predicting state without a teacher.

    Parameters
    ----------
    r_upper, r_inter
        Arrays of equal shape, e.g. ``(rows, n_next)``.

    Returns
    -------
    numpy.ndarray
        float64 array of the same shape.
    """
    u = np.asarray(r_upper, dtype=np.float64)
    i = np.asarray(r_inter, dtype=np.float64)
    _same_shape(("r_upper", "r_inter"), u, i)
    return u - i
