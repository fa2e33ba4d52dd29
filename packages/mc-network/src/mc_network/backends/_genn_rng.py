"""The noise generator of GeNN's single-threaded CPU backend, made per member and saveable.

GeNN's CPU code draws ``gennrand_normal()`` from two globals of the generated library,
``std::mt19937 hostRNG`` and ``std::normal_distribution<float> standardNormalDistribution``
(both ``extern "C"``, so their symbols are exported). GeNN seeds them once, from a seed
compiled into the code. This module reads and writes their bytes instead, so that

* every batch member has its own noise stream, seeded from the member's run seed (the
  ``noise`` stream of :func:`mc_network.seeding.run_streams`), which the CPU backend swaps in
  and out with the member's other state: a member of a batch draws exactly the noise it
  draws when it runs alone;
* the stream is part of :meth:`~mc_network.backends.genn.GeNNSimulation.get_state`
  (a JSON-ready dict), so a checkpoint continues bit for bit;
* the seed is not compiled into the code, so runs with different seeds share one build.

The byte layout is that of GCC's libstdc++ on 64-bit Linux (``_M_x[624]`` of 8-byte
``uint_fast32_t`` and the index ``_M_p``; mean, stddev, the saved second value of the polar
method and its flag, in the model's precision). :func:`supported` says whether this platform
has it, and :class:`HostRNG` checks the freshly seeded bytes against it before it trusts them.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["KIND", "HostRNG", "initial_state", "supported"]

KIND = "genn_cpu_mt19937"
_N = 624  # std::mt19937::state_size


def supported() -> bool:
    """Whether the host RNG layout is known here (Linux, 64-bit ``unsigned long``).

    ``MC_GENN_HOST_RNG=0`` in the environment turns the management off: GeNN then seeds its
    generator once from a seed compiled into the code (the members share one stream, and
    checkpoints do not capture it).
    """
    if os.environ.get("MC_GENN_HOST_RNG", "1") == "0":
        return False
    return sys.platform.startswith("linux") and ctypes.sizeof(ctypes.c_ulong) == 8


def initial_state(seed_seq: np.random.SeedSequence) -> dict[str, Any]:
    """A freshly seeded state (numpy's MT19937 seeding from ``seed_seq``), JSON-ready."""
    st = np.random.MT19937(seed_seq).state["state"]
    return {
        "kind": KIND,
        "key": [int(k) for k in st["key"]],
        "pos": int(st["pos"]),
        "normal_saved": 0.0,
        "normal_available": False,
    }


class HostRNG:
    """Read and write the host RNG of a loaded GeNN CPU library.

    Parameters
    ----------
    library
        Path of the loaded ``librunner.so`` (it must be loaded already, by pygenn: this
        class only looks up the two symbols and keeps no reference to the library).
    double
        The model's precision is ``double`` (``normal_distribution<double>``).

    Raises
    ------
    RuntimeError
        If the symbols are missing or their bytes do not look like a freshly seeded
        libstdc++ ``mt19937`` / ``normal_distribution<float>``.
    """

    def __init__(self, library: Path, double: bool = False) -> None:
        import _ctypes

        try:
            lib = ctypes.CDLL(str(library), mode=os.RTLD_NOW | os.RTLD_NOLOAD)
        except OSError as err:
            raise RuntimeError(f"GeNN library {library} is not loaded: {err}") from None
        try:
            mt = ctypes.addressof(ctypes.c_char.in_dll(lib, "hostRNG"))
            nd = ctypes.addressof(ctypes.c_char.in_dll(lib, "standardNormalDistribution"))
        except ValueError as err:
            raise RuntimeError(f"GeNN host RNG symbols not found in {library}: {err}") from None
        finally:
            _ctypes.dlclose(lib._handle)  # pygenn holds its own reference
        self._fmt = "<ddd?" if double else "<fff?"  # mean, stddev, saved value, saved flag
        self._mt = (ctypes.c_uint64 * (_N + 1)).from_address(mt)
        self._nd = (ctypes.c_char * struct.calcsize(self._fmt)).from_address(nd)
        words = np.ctypeslib.as_array(self._mt)
        mean, std, _, _ = struct.unpack(self._fmt, bytes(self._nd))
        if words[_N] != _N or np.any(words[:_N] >> np.uint64(32)) or (mean, std) != (0.0, 1.0):
            raise RuntimeError(
                "GeNN's host RNG does not have the libstdc++ layout this backend expects, so "
                "it cannot manage the noise stream here; set MC_GENN_HOST_RNG=0 to let GeNN "
                "seed it once instead"
            )

    def get(self) -> dict[str, Any]:
        """The current state, as from :func:`initial_state`."""
        words = np.ctypeslib.as_array(self._mt)
        _, _, saved, available = struct.unpack(self._fmt, bytes(self._nd))
        return {
            "kind": KIND,
            "key": [int(k) for k in words[:_N]],
            "pos": int(words[_N]),
            "normal_saved": float(saved),
            "normal_available": bool(available),
        }

    def set(self, state: dict[str, Any]) -> None:
        """Write a state from :meth:`get` or :func:`initial_state`."""
        key = np.asarray(state["key"], dtype=np.uint64)
        if key.shape != (_N,) or not 0 <= int(state["pos"]) <= _N:
            raise ValueError("noise_rng: not a GeNN CPU host RNG state")
        words = np.ctypeslib.as_array(self._mt)
        words[:_N] = key
        words[_N] = int(state["pos"])
        saved, available = float(state["normal_saved"]), bool(state["normal_available"])
        packed = struct.pack(self._fmt, 0.0, 1.0, saved, available)
        ctypes.memmove(self._nd, packed, len(packed))
