"""Network time steps per second, for every available backend.

Cases: `reference`, `compiled`, GeNN on the single-threaded CPU in its exact build
(`genn-exact`, the default: bit-identical to the reference) and its fast build (`genn-fast`,
GeNN's ``-O3 -ffast-math``) and, where GeNN can use a GPU, `genn-cuda` (exact) and
`genn-cuda-fast`; `compiled-fast`, `reference-fast`, `genn-fast-input` (GeNN's CPU, exact
build) and `genn-cuda-fast-input` (CUDA, exact build) are those backends with the network's
``input_mode: fast`` (the sample-factorised input projection).

The paper's networks (PAL: apical noise, B learns), 100 steps per sample: Yin-Yang 4-30-3
and MNIST 784-100-10 and, for the compiled case only, ``mnist-10in``: the MNIST network with
10 inputs (10-100-10), the ceiling of the fast input mode (everything but the input
projection's 78 400 synapses and the 774 input neurons it drops); batch sizes 1, 10 and 30,
a training stage (learning and teaching on, ``stage = learning``) and, for the compiled
cases, a stage without learning (validation, ``stage = no-learning``). Each round runs one
stage of ``samples`` samples; ``extra_info`` holds the steps per round and member, the batch
size (network steps per round = batch * steps), the stage and the peak memory of the case.
Run through ``benchmarks/run.py`` (``nox -s bench``), which prints the table.
"""

from __future__ import annotations

import gc
import resource
import tracemalloc

import numpy as np
import pytest

from mc_network import available_backends, build_network, mnist_spec, yinyang_spec


def _mnist_without_input(feedback: str = "pal", **changes):
    """The ceiling of the fast input mode: the MNIST network with 10 inputs (10-100-10)."""
    return mnist_spec(feedback, dims=(10, 100, 10), **changes)


NETWORKS = {"yinyang": yinyang_spec, "mnist": mnist_spec, "mnist-10in": _mnist_without_input}
# networks measured by one case only (the others skip them)
ONLY = {"mnist-10in": ("compiled",)}
BATCHES = (1, 10, 30)
# case -> (backend, options); "genn-cuda" runs where GeNN's CUDA device can be used
CASES = {
    "reference": ("reference", {}),
    "reference-fast": ("reference", {}),
    "compiled": ("compiled", {}),
    "compiled-fast": ("compiled", {}),
    "genn-exact": ("genn", {"device": "single_threaded_cpu", "exact": True}),
    "genn-fast": ("genn", {"device": "single_threaded_cpu", "exact": False}),
    "genn-cuda": ("genn", {"device": "cuda", "exact": True}),
    "genn-cuda-fast": ("genn", {"device": "cuda", "exact": False}),
    "genn-fast-input": ("genn", {"device": "single_threaded_cpu", "exact": True}),
    "genn-cuda-fast-input": ("genn", {"device": "cuda", "exact": True}),
}
# case -> changes of the network description
SPEC_CHANGES = dict.fromkeys(
    ("compiled-fast", "reference-fast", "genn-fast-input", "genn-cuda-fast-input"),
    {"input_mode": "fast"},
)
# stages: learning and teaching on (training), or both off (validation, test)
STAGES = {"learning": True, "no-learning": False}
NO_LEARNING_CASES = ("compiled", "compiled-fast")
_GENN_CPU = {"yinyang": {1: 100, 10: 10, 30: 5}, "mnist": {1: 10, 10: 2, 30: 1}}
_GENN_CUDA = {"yinyang": {1: 20, 10: 20, 30: 20}, "mnist": {1: 20, 10: 20, 30: 20}}
# samples per round (100 steps each), sized for about 0.1-1 s per round
SAMPLES = {
    "reference": {"yinyang": {1: 4, 10: 2, 30: 2}, "mnist": {1: 1, 10: 1, 30: 1}},
    "compiled": {
        "yinyang": {1: 400, 10: 60, 30: 30},
        "mnist": {1: 30, 10: 5, 30: 3},
        "mnist-10in": {1: 100, 10: 20, 30: 10},
    },
    "compiled-fast": {"yinyang": {1: 400, 10: 60, 30: 30}, "mnist": {1: 100, 10: 20, 30: 10}},
    "reference-fast": {"yinyang": {1: 4, 10: 2, 30: 2}, "mnist": {1: 1, 10: 1, 30: 1}},
    "genn-exact": _GENN_CPU,
    "genn-fast": _GENN_CPU,
    "genn-cuda": _GENN_CUDA,
    "genn-cuda-fast": _GENN_CUDA,
    "genn-fast-input": _GENN_CPU,
    "genn-cuda-fast-input": _GENN_CUDA,
}
ROUNDS = dict.fromkeys(CASES, 5) | {"reference": 2, "reference-fast": 2}


def _usable(case: str) -> bool:
    backend, options = CASES[case]
    if available_backends()[backend] is not None:
        return False
    if options.get("device") == "cuda":
        from mc_network.backends import BackendUnavailable
        from mc_network.backends._genn_build import check_device

        try:
            check_device("cuda")
        except BackendUnavailable:
            return False
    return True


BACKENDS = [case for case in CASES if _usable(case)]


def _data(spec, n_samples: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    n_in, n_out = spec.dims[0], spec.dims[-1]
    x = rng.uniform(0.0, 1.0, size=(n_samples, n_in)).astype(np.float32)
    t = np.full((n_samples, n_out), 0.1, np.float32)
    t[np.arange(n_samples), rng.integers(0, n_out, n_samples)] = 1.0
    return x, t


def _peak_memory(backend: str, spec, batch: int, x, t, learning: bool) -> dict[str, float]:
    """Traced peak (build + one stage) and the process's resident high-water mark, in MiB.

    The traced peak counts the Python and NumPy allocations of a second, already compiled
    network (numba's own allocations inside the kernels are not traced); the resident
    high-water mark is the whole process's so far (it only grows from case to case).
    """
    gc.collect()
    tracemalloc.start()
    name, options = CASES[backend]
    net = build_network(spec, seeds=list(range(batch)), backend=name, **options)
    net.run_stage(x, t, learning=learning, teaching=learning)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    net.close()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"peak_traced_mib": peak / 2**20, "maxrss_mib": maxrss}


# the backends of one network and batch size run one after another (the innermost loop), so
# that a change of the machine's load during the session biases their ratios least
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("stage", list(STAGES))
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("network", list(NETWORKS))
def test_steps_per_second(benchmark, backend: str, network: str, batch: int, stage: str) -> None:
    learning = STAGES[stage]
    if not learning and backend not in NO_LEARNING_CASES:
        pytest.skip("stages without learning are measured for the compiled cases")
    if backend not in ONLY.get(network, (backend,)):
        pytest.skip(f"network {network} is measured for {', '.join(ONLY[network])} only")
    spec = NETWORKS[network]("pal", **SPEC_CHANGES.get(backend, {}))
    n_samples = SAMPLES[backend][network][batch]
    x, t = _data(spec, n_samples)
    name, options = CASES[backend]
    net = build_network(spec, seeds=list(range(batch)), backend=name, **options)
    net.run_stage(x[:1], t[:1], learning=learning, teaching=learning)  # compile / warm up
    benchmark.extra_info.update(_peak_memory(backend, spec, batch, x[:1], t[:1], learning))

    def run() -> None:
        net.run_stage(x, t, learning=learning, teaching=learning)

    benchmark.extra_info.update(
        backend=backend,
        network=network,
        batch=batch,
        stage=stage,
        samples=n_samples,
        steps=n_samples * spec.steps_per_sample,
    )
    benchmark.pedantic(run, rounds=ROUNDS[backend], iterations=1, warmup_rounds=1)
    net.close()
