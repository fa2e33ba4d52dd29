"""What the GeNN backend reads from its environment, tested without pygenn.

The compiler command of CPU builds in the exact and the fast mode and its place in the
code-cache key (the compilers here are small scripts that answer ``--version`` like GCC or
like Clang), the nvcc flags of exact CUDA builds, and the reasons given when no CUDA device can
be used (the NVIDIA driver library here is a stand-in object).
"""

from __future__ import annotations

import ctypes
import os
import stat
from pathlib import Path

import pytest

from mc_network import BackendUnavailable, yinyang_spec
from mc_network.backends import _genn_build
from mc_network.backends._genn_build import (
    GCC_VECTOR_PARAMS,
    _build_env,
    build_mode,
    cache_key,
    check_cuda_device,
    cxx_command,
    genn_preferences,
    nvcc_flags,
)

CPU = "single_threaded_cpu"
GCC_BANNER = "g++ (GCC) 12.2.0\nCopyright (C) 2022 Free Software Foundation, Inc.\n"
CLANG_BANNER = "clang version 16.0.6\nTarget: x86_64-pc-linux-gnu\n"


def _fake_compiler(tmp_path: Path, name: str, banner: str) -> str:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\ncat <<'EOF'\n{banner}EOF\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture(autouse=True)
def _fresh_detection():
    _genn_build.compiler_family.cache_clear()
    yield
    _genn_build.compiler_family.cache_clear()


@pytest.mark.skipif(os.name != "posix", reason="the fake compilers are shell scripts")
def test_gcc_gets_the_vectoriser_parameter(tmp_path, monkeypatch):
    gcc = _fake_compiler(tmp_path, "g++", GCC_BANNER)
    monkeypatch.setenv("CXX", gcc)
    assert cxx_command(CPU, optimize=True, exact=False) == (
        f"{gcc} --param vect-max-version-for-alias-checks=64"
    )
    assert GCC_VECTOR_PARAMS == ("--param", "vect-max-version-for-alias-checks=64")


@pytest.mark.skipif(os.name != "posix", reason="the fake compilers are shell scripts")
def test_other_compilers_cuda_and_unoptimised_builds_keep_genns_default(tmp_path, monkeypatch):
    monkeypatch.setenv("CXX", _fake_compiler(tmp_path, "g++", GCC_BANNER))
    assert cxx_command("cuda", optimize=True, exact=False) is None
    assert cxx_command(CPU, optimize=False, exact=False) is None
    monkeypatch.setenv("CXX", _fake_compiler(tmp_path, "clang++", CLANG_BANNER))
    assert cxx_command(CPU, optimize=True, exact=False) is None
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    assert cxx_command(CPU, optimize=True, exact=False) is None


@pytest.mark.skipif(os.name != "posix", reason="the fake compilers are shell scripts")
def test_the_compiler_is_part_of_the_cache_key(tmp_path, monkeypatch):
    spec = yinyang_spec("fa")
    keys = {}
    for name, banner in (("g++", GCC_BANNER), ("g++-13", GCC_BANNER), ("clang++", CLANG_BANNER)):
        monkeypatch.setenv("CXX", _fake_compiler(tmp_path, name, banner))
        for exact in (False, True):
            keys[name, exact] = cache_key(spec, CPU, 1, "5.4.0", True, exact=exact)
            assert keys[name, exact] == cache_key(spec, CPU, 1, "5.4.0", True, exact=exact)
    assert len(set(keys.values())) == 6
    # the compiler does not matter for CUDA code, nor for unoptimised fast CPU builds
    for exact in (False, True):
        cuda = {cache_key(spec, "cuda", 2, "5.4.0", True, exact=exact)}
        monkeypatch.setenv("CXX", _fake_compiler(tmp_path, "g++", GCC_BANNER))
        cuda.add(cache_key(spec, "cuda", 2, "5.4.0", True, exact=exact))
        assert len(cuda) == 1
    assert cache_key(spec, "cuda", 2, "5.4.0", True, exact=False) != cache_key(
        spec, "cuda", 2, "5.4.0", True, exact=True
    )


@pytest.mark.skipif(os.name != "posix", reason="the fake compilers are shell scripts")
def test_exact_builds_optimise_without_value_changing_flags(tmp_path, monkeypatch):
    gcc = _fake_compiler(tmp_path, "g++", GCC_BANNER)
    monkeypatch.setenv("CXX", gcc)
    vect = "--param vect-max-version-for-alias-checks=64"
    assert cxx_command(CPU, optimize=True, exact=True) == f"{gcc} -O3 -ffp-contract=off {vect}"
    assert cxx_command(CPU, optimize=False, exact=True) == f"{gcc} -ffp-contract=off"
    # GeNN's optimize_code (-O3 -ffast-math) only in the fast optimised CPU build
    assert genn_preferences(CPU, True, False, None) == {"optimize_code": True}
    for optimize, exact in ((True, True), (False, True), (False, False)):
        assert genn_preferences(CPU, optimize, exact, None) == {}
    assert genn_preferences("cuda", True, False, None) == {}
    clang = _fake_compiler(tmp_path, "clang++", CLANG_BANNER)
    monkeypatch.setenv("CXX", clang)
    assert cxx_command(CPU, optimize=True, exact=True) == f"{clang} -O3 -ffp-contract=off"
    # an unknown compiler: GeNN's unoptimised build (no flags whose meaning is unknown)
    monkeypatch.setenv("CXX", _fake_compiler(tmp_path, "icc", "icc (ICC) 2021.1\n"))
    assert cxx_command(CPU, optimize=True, exact=True) is None
    mode = build_mode(CPU, True, True)
    assert mode == {
        "exact": True,
        "optimize": True,
        "optimize_code": False,
        "cxx": None,
        "nvcc_append_flags": None,
    }
    # CUDA: no C++ compiler command; nvcc stops contracting multiply-adds in the exact build
    assert cxx_command("cuda", optimize=True, exact=True) is None
    assert nvcc_flags("cuda", True) == "-fmad=false"
    assert nvcc_flags("cuda", False) is None and nvcc_flags(CPU, True) is None
    assert build_mode("cuda", True, True)["nvcc_append_flags"] == "-fmad=false"
    assert build_mode("cuda", True, False)["optimize_code"] is False


def test_the_build_environment_is_restored(monkeypatch):
    monkeypatch.setenv("CXX", "c++-before")
    monkeypatch.setenv("MAKEFLAGS", "-j4")
    with _build_env("g++ --param x=1"):
        assert os.environ["CXX"] == "g++ --param x=1"
        assert os.environ["MAKEFLAGS"] == "-j4 -s --no-print-directory"
    assert os.environ["CXX"] == "c++-before" and os.environ["MAKEFLAGS"] == "-j4"
    monkeypatch.delenv("CXX")
    monkeypatch.delenv("MAKEFLAGS")
    with pytest.raises(RuntimeError), _build_env("g++"):
        raise RuntimeError("build failed")
    assert "CXX" not in os.environ and "MAKEFLAGS" not in os.environ
    with _build_env(None):
        assert "CXX" not in os.environ and os.environ["MAKEFLAGS"] == "-s --no-print-directory"
    assert "MAKEFLAGS" not in os.environ
    # the exact CUDA build's nvcc flags are appended to the user's own
    with _build_env(None, "-fmad=false"):
        assert os.environ["NVCC_APPEND_FLAGS"] == "-fmad=false"
    assert "NVCC_APPEND_FLAGS" not in os.environ
    monkeypatch.setenv("NVCC_APPEND_FLAGS", "-lineinfo")
    with _build_env(None, "-fmad=false"):
        assert os.environ["NVCC_APPEND_FLAGS"] == "-lineinfo -fmad=false"
    assert os.environ["NVCC_APPEND_FLAGS"] == "-lineinfo"


class _Driver:
    """Stand-in for the NVIDIA driver library (the calls the backend makes, C semantics)."""

    def __init__(self, init_rc=0, count=1, count_rc=0, gpus=(("NVIDIA H200", 9, 0),)) -> None:
        self.init_rc, self.count, self.count_rc, self.gpus = init_rc, count, count_rc, gpus

    def cuInit(self, flags):  # noqa: N802 - the driver's names
        assert flags == 0
        return self.init_rc

    def cuDeviceGetCount(self, ref):  # noqa: N802
        ref._obj.value = self.count
        return self.count_rc

    def cuDeviceGet(self, ref, ordinal):  # noqa: N802
        ref._obj.value = 100 + ordinal  # a handle, not the ordinal
        return 0

    def cuDeviceGetName(self, buf, size, dev):  # noqa: N802
        name = self.gpus[dev.value - 100][0].encode()
        assert len(name) < size == len(buf)
        buf.value = name
        return 0

    def cuDeviceGetAttribute(self, ref, attribute, dev):  # noqa: N802
        _, major, minor = self.gpus[dev.value - 100]
        ref._obj.value = {75: major, 76: minor}[attribute]
        return 0


def _driver(monkeypatch, lib) -> str | None:
    def cdll(name):
        assert name in ("libcuda.so.1", "nvcuda.dll")
        if isinstance(lib, Exception):
            raise lib
        return lib

    monkeypatch.setattr(ctypes, "CDLL", cdll)
    return _genn_build._cuda_problem()


def test_reasons_why_no_cuda_device_can_be_used(monkeypatch):
    missing = _driver(monkeypatch, OSError("libcuda.so.1: cannot open shared object file"))
    assert "driver library libcuda.so.1 cannot be loaded" in missing
    assert "no GPU or no driver" in missing
    assert "not a usable NVIDIA driver library" in _driver(monkeypatch, object())
    assert _driver(monkeypatch, _Driver(init_rc=100)) == (
        "cuInit failed with CUDA error 100: no usable GPU"
    )
    assert _driver(monkeypatch, _Driver(count=0)) == (
        "no CUDA device found (cuDeviceGetCount: error 0, 0 devices)"
    )
    assert "error 3" in _driver(monkeypatch, _Driver(count_rc=3))
    assert _driver(monkeypatch, _Driver(count=2)) is None


def test_visible_gpus_are_part_of_the_cuda_cache_key(monkeypatch):
    spec = yinyang_spec("fa")

    def key(device, lib):
        _driver(monkeypatch, lib)
        return cache_key(spec, device, 2 if device == "cuda" else 1, "5.4.0", True, exact=True)

    a100 = _Driver(count=1, gpus=(("NVIDIA A100-SXM4-80GB", 8, 0),))
    h200 = _Driver(count=1, gpus=(("NVIDIA H200", 9, 0),))
    two = _Driver(count=2, gpus=(("NVIDIA H200", 9, 0), ("NVIDIA A100-SXM4-80GB", 8, 0)))
    _driver(monkeypatch, two)
    assert _genn_build.cuda_devices() == (
        ("NVIDIA H200", 9, 0),
        ("NVIDIA A100-SXM4-80GB", 8, 0),
    )
    cuda = {key("cuda", lib) for lib in (a100, h200, two)}
    assert len(cuda) == 3
    assert key("cuda", h200) == key("cuda", _Driver(count=1, gpus=(("NVIDIA H200", 9, 0),)))
    # no driver, or one that fails: no devices, and the key stays computable
    assert key("cuda", OSError("no driver")) == key("cuda", _Driver(init_rc=100))
    assert _genn_build.cuda_devices() == ()
    # the GPUs do not enter CPU keys
    assert len({key("single_threaded_cpu", lib) for lib in (a100, h200, OSError("x"))}) == 1


def test_cuda_device_option(monkeypatch):
    _driver(monkeypatch, _Driver(count=2, gpus=(("NVIDIA H200", 9, 0), ("NVIDIA H200", 9, 0))))
    check_cuda_device("cuda", None)
    check_cuda_device("single_threaded_cpu", None)
    check_cuda_device("cuda", 1)
    with pytest.raises(ValueError, match="applies to device='cuda' only"):
        check_cuda_device("single_threaded_cpu", 0)
    for bad in (-1, True, 1.0, "0"):
        with pytest.raises(ValueError, match="must be a GPU ordinal"):
            check_cuda_device("cuda", bad)
    with pytest.raises(BackendUnavailable, match=r"cuda_device=2: only 2 GPU\(s\) .*0: NVIDIA"):
        check_cuda_device("cuda", 2)
    spec = yinyang_spec("fa")
    keys = {
        cache_key(spec, "cuda", 2, "5.4.0", True, cuda_device=d, exact=True) for d in (None, 0, 1)
    }
    assert len(keys) == 3
    _driver(monkeypatch, OSError("no driver"))  # GPUs unknown: nothing to check against
    check_cuda_device("cuda", 5)
