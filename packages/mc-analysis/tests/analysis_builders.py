"""Builders of small run, sweep and original-code directories in the documented formats.

A synthetic run: dims [4, 5, 3], 2 epochs, 5 records per sample, 6 validation and 6 test
samples. Output ``v_brev`` is made so that exactly ``valid_correct[e]`` validation samples
(and ``test_correct`` test samples) are classified right by the mean over records 1..4; record
0 of every sample points the other way, so evaluating it would change the answer. The
feedback weights are built at the angles ``thetas`` [deg] to the transposed forward weights.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import h5py
import numpy as np
import yaml
import zarr

from mc_analysis import metrics as M

DIMS = [4, 5, 3]
N_EPOCHS = 2
RPS = 5
EVERY = 20
N_VAL = 6
N_TEST = 6
ULOW, UHIGH = 0.1, 1.0


def records(rng, n_samples, n_correct):
    """Output v_brev, teacher rates and Yin-Yang-like input rates (n_samples * RPS rows)."""
    labels = np.arange(n_samples) % 3
    correct = np.zeros(n_samples, dtype=bool)
    correct[rng.permutation(n_samples)[:n_correct]] = True
    preds = np.where(correct, labels, (labels + 1) % 3)
    out = rng.uniform(0.0, 0.3, size=(n_samples * RPS, 3))
    sup = np.full((n_samples * RPS, 3), ULOW)
    xy = rng.uniform(0.05, 0.95, size=(n_samples, 2))
    inp = np.empty((n_samples * RPS, 4))
    for s in range(n_samples):
        first, rest = s * RPS, slice(s * RPS + 1, (s + 1) * RPS)
        out[rest, preds[s]] += 0.5
        out[first, (preds[s] + 2) % 3] = 50.0
        sup[rest, labels[s]] = UHIGH
        sup[first, (labels[s] + 1) % 3] = UHIGH
        x, y = xy[s]
        inp[rest] = [x, y, 1 - x, 1 - y]
        inp[first] = [1 - x, 1 - y, x, y]  # the previous sample still shows at record 0
    f32 = np.float32
    return out.astype(f32), sup.astype(f32), inp.astype(f32), xy


def weights_at(rng, theta):
    """W (5, 3) = ff_2 and B (3, 5) = fb_1 at angle theta [deg] between B and W^T."""
    W = rng.normal(size=(DIMS[1], DIMS[2]))
    Wt = W.T
    Q = rng.normal(size=Wt.shape)
    Q -= np.sum(Q * Wt) / np.sum(Wt * Wt) * Wt
    t = math.radians(theta)
    B = math.cos(t) * Wt / np.linalg.norm(Wt) + math.sin(t) * Q / np.linalg.norm(Q)
    return W.astype(np.float32), B.astype(np.float32)


def _put(group, key, data, attrs, fmt=1):
    codecs = {}
    checksums = fmt >= 2
    if checksums:  # format 2: zstd, then a crc32c checksum on every chunk
        from zarr.codecs import Crc32cCodec, ZstdCodec

        codecs = {"compressors": (ZstdCodec(level=0), Crc32cCodec())}
    create = {
        "shape": data.shape,
        "dtype": data.dtype,
        "fill_value": np.nan,
        "chunks": (1, *data.shape[1:]) if checksums else "auto",
        "shards": (data.shape[0], *data.shape[1:]) if checksums else None,
        **codecs,
    }
    owner, var = key.split("/")[1].split(".", 1)
    described = {"variable": var, "owner": owner, "stage": key.split("/")[0], **attrs}
    if fmt >= 3:  # format 3: the metadata sealed with its own checksum
        from mc_analysis.runformat import sealed_attributes

        described = sealed_attributes(described, **create)
    arr = group.create_array(key, attributes=described, **create)
    arr[...] = data


def make_run(
    path: Path,
    *,
    name="tiny",
    seed=1,
    feedback="pal",
    valid_correct=(2, 4, 6),
    test_correct=3,
    thetas=(80.0, 60.0, 40.0),
    sp_offsets=(0.0, 0.01, 0.02),
    rng_seed=0,
    fmt=1,
) -> dict:
    """Write a run directory; returns the expected numbers.

    ``fmt=1`` writes the legacy layout (no fingerprint, no checksums); ``fmt=2`` adds crc32c on
    every chunk, sharding and the config fingerprint in ``environment.json``; ``fmt=3`` (the
    current one) also seals every array's metadata with its own checksum.
    """
    rng = np.random.default_rng(rng_seed)
    path.mkdir(parents=True)
    config = {
        "name": name,
        "seed": seed,
        "network": {"dims": DIMS, "dt": 0.01, "feedback": feedback},
        "dataset": {"name": "yinyang", "n_train": 1, "n_valid": 2, "n_test": 2, "seed": 42},
        "protocol": {"n_epochs": N_EPOCHS},
        "recording": {"records_per_sample": RPS, "weights_per_epoch": True},
        "backend": {"name": "reference"},
    }
    (path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    attrs = {"record_every_steps": EVERY, "dt": 0.01, "steps_per_sample": 100}
    attrs["records_per_sample"] = RPS
    g = zarr.open_group(path / "recordings.zarr", mode="w")
    val = [records(rng, N_VAL, k) for k in valid_correct]
    test = records(rng, N_TEST, test_correct)
    for stage, recs in (("validation", val), ("test", [test])):
        for i, var in enumerate(("output.v_brev", "teacher.rate", "input.rate")):
            _put(g, f"{stage}/{var}", np.stack([r[i] for r in recs]), attrs, fmt)
    ws = [weights_at(rng, th) for th in thetas]
    ff2 = np.stack([w for w, _ in ws])
    fb1 = np.stack([b for _, b in ws])
    off = np.asarray(sp_offsets, dtype=np.float32)[:, None, None]
    weights = {
        "ff_1.g": rng.normal(size=(len(thetas), 4, 5)).astype(np.float32),
        "ff_2.g": ff2,
        "fb_1.g": fb1,
        "p2i_1.g": ff2 + off,
        "i2p_1.g": -fb1 + 2 * off,
    }
    for var, data in weights.items():
        _put(g, f"weights/{var}", data, {}, fmt)
    angles = [float(M.alignment_angle(ff2[e], fb1[e])) for e in range(len(thetas))]
    sp = [M.self_prediction_errors(ff2[e], ff2[e] + off[e], fb1[e], -fb1[e] + 2 * off[e])
          for e in range(len(thetas))]  # fmt: skip
    expected = {
        "validation_accuracy": [100.0 * k / N_VAL for k in valid_correct],
        "test_accuracy": 100.0 * test_correct / N_TEST,
        "validation_rmse": [M.rmse(v, t) for v, t, _, _ in val],
        "angles": angles,
        "thetas": list(thetas),
        "xy_valid_last": val[-1][3],
    }
    metrics = {
        "name": name,
        "seed": seed,
        "epochs_completed": N_EPOCHS,
        "validation_accuracy": expected["validation_accuracy"],
        "validation_rmse": expected["validation_rmse"],
        "validation_mae": [M.mae(v, t) for v, t, _, _ in val],
        "test_accuracy": expected["test_accuracy"],
        "test_rmse": M.rmse(test[0], test[1]),
        "angles": {"fb_1": angles},
        "self_prediction": {
            "layer_1": {
                "ff_minus_p2i": [s["ff_p2i_mean_abs"] for s in sp],
                "fb_plus_i2p": [s["fb_i2p_mean_abs"] for s in sp],
            }
        },
    }
    (path / "metrics.json").write_text(json.dumps(metrics))
    (path / "status.json").write_text(json.dumps({"state": "completed", "epochs_completed": 2}))
    env = {"code": {}}
    if fmt >= 2:
        from mc_analysis.runformat import fingerprint

        env.update(format_version=fmt, config_fingerprint=fingerprint(config))
    (path / "environment.json").write_text(json.dumps(env))
    return expected


#: Sweep members: variant -> [(seed, validation correct per epoch, test correct, final theta)]
SWEEP_MEMBERS = {
    "pal": [(1, (2, 4, 6), 5, 10.0), (2, (2, 5, 5), 6, 20.0), (3, (1, 3, 6), 4, 15.0)],
    "fa": [(1, (2, 2, 3), 2, 70.0), (2, (3, 3, 4), 3, 75.0)],
}


def make_sweep(path: Path) -> dict:
    """A sweep directory with SWEEP_MEMBERS; returns {variant: [expected, ...]}."""
    path.mkdir(parents=True)
    members, expected = [], {}
    for variant, runs in SWEEP_MEMBERS.items():
        for seed, vc, tc, theta in runs:
            mname = f"{variant}_seed{seed}"
            members.append({"name": mname, "variant": variant, "seed": seed, "overrides": {}})
            exp = make_run(
                path / "members" / mname,
                name=mname,
                seed=seed,
                feedback=variant,
                valid_correct=vc,
                test_correct=tc,
                thetas=(85.0, 50.0, theta),
                rng_seed=seed + 10 * len(expected),
            )
            expected.setdefault(variant, []).append(exp)
    sweep = {"name": "tiny_sweep", "source": "sweep.yaml", "max_batch": 30, "members": members}
    (path / "sweep.yaml").write_text(yaml.safe_dump(sweep, sort_keys=False))
    return expected


def make_original_run(path: Path, *, name="orig_seed_7", valid_correct=(1, 3, 5), test_correct=2):
    """A run directory of the original code (two-document config.yaml + net_recordings.h5)."""
    rng = np.random.default_rng(5)
    path.mkdir(parents=True)
    meta = {
        "name": name,
        "dt": 0.01,
        "numpy_seed": 7,
        "sim_config": {
            "n_class": 3,
            "n_epochs": N_EPOCHS,
            "n_train": 1,
            "n_valid": 2,
            "n_test": 2,
            "pat_t": 1.0,
            "recs_per_sample": RPS,
        },  # fmt: skip
    }
    net = {"dims": DIMS, "t_pattern": 1.0}
    (path / "config.yaml").write_text(yaml.dump([meta, net]))
    val = [records(rng, N_VAL, k) for k in valid_correct]
    test = records(rng, N_TEST, test_correct)
    n_train = 3 * RPS * N_EPOCHS  # 1 per class per epoch
    ws = [weights_at(rng, th) for th in np.linspace(80.0, 30.0, n_train)]
    with h5py.File(path / "net_recordings.h5", "w") as f:
        val_out, val_sup = (np.concatenate([v[i] for v in val]) for i in (0, 1))
        for stage, (out, sup) in (("validation", (val_out, val_sup)), ("testing", test[:2])):
            f[f"{stage}/2/output/v_brev"] = out
            f[f"{stage}/3/supervisor/rate"] = sup
        f["training/2/ff/g"] = np.stack([w.reshape(-1) for w, _ in ws])
        f["training/1/fb/g"] = np.stack([b.reshape(-1) for _, b in ws])
    return {
        "validation_accuracy": [100.0 * k / N_VAL for k in valid_correct],
        "test_accuracy": 100.0 * test_correct / N_TEST,
    }
