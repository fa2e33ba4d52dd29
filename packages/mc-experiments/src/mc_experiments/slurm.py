"""SLURM itself: the cluster config of ``--executor slurm``, its batch script, sbatch and squeue.

The cluster config is a YAML file (``configs/clusters/slurm_array.example.yaml``)::

    partition: normal            # required: the partition (sbatch --partition)
    time: "02:00:00"             # required: the time limit of one task (sbatch --time)
    account: my_project          # optional: sbatch --account
    cores: 1                     # optional: CPUs per task when the sweep's resources say none
    memory: 4GB                  # optional: memory per task when the sweep's resources say none
    venv: /home/me/mc/.venv      # the environment a task runs in: a virtual environment,
    modules: [python/3.11]       #   modules to load (module load ...) and/or
    setup: ["export X=1"]        #   shell lines (at least one of the three)
    job_name: mc-yinyang         # optional (default: mc-<sweep name>)
    max_running: 10              # optional: at most this many tasks at once (--array=...%10)
    sbatch_options: ["--qos=long", "--constraint=cpu"]   # optional: more #SBATCH lines

Only this module runs SLURM's commands; they must be on ``PATH`` (a login node, or
``module load slurm``), else :class:`SlurmUnavailable`. A submission SLURM refuses raises
:class:`JobRejected` with SLURM's own message.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mc_analysis.bounded import load_yaml, short_repr
from mc_experiments.config import ConfigError
from mc_experiments.outcomes import ExecutorUnavailable
from mc_experiments.sweep import parse_memory

__all__ = [
    "CONFIG_KEYS",
    "JobRejected",
    "SlurmConfig",
    "SlurmUnavailable",
    "batch_script",
    "check_commands",
    "load_slurm_config",
    "queued_tasks",
    "sbatch",
    "test_job",
]

#: Every key of a cluster config for ``--executor slurm``, with what it holds.
CONFIG_KEYS = {
    "partition": "the partition to submit to (required; sbatch --partition)",
    "time": "the time limit of one task (required; sbatch --time, e.g. '02:00:00' or '1-00:00:00')",
    "account": "the account to charge (sbatch --account)",
    "cores": "CPUs per task when the sweep's resources give none (default 1)",
    "memory": "memory per task when the sweep's resources give none (e.g. 4GB)",
    "venv": "a virtual environment every task activates (its directory)",
    "modules": "modules every task loads (a list: module load ...)",
    "setup": "shell lines every task runs before mc-run (a list)",
    "job_name": "the job name (default mc-<sweep name>)",
    "max_running": "at most this many tasks of the array at once (--array=...%N)",
    "sbatch_options": "more sbatch options, one per #SBATCH line (a list, e.g. ['--qos=long'])",
}
REQUIRED = ("partition", "time")
ENVIRONMENT = ("venv", "modules", "setup")
_TIME = re.compile(r"^(\d+-)?\d+(:\d+){0,2}$")
_WORD = re.compile(r"^[A-Za-z0-9_.,+=@:/-]+$")
# what may appear in a path on an #SBATCH line (SLURM does not parse quotes there; % is a
# filename pattern)
_SAFE_PATH = re.compile(r"^[A-Za-z0-9_.,+=@:/~-]+$")


class SlurmUnavailable(ExecutorUnavailable):
    """SLURM's commands are not on ``PATH``."""


class JobRejected(RuntimeError):
    """sbatch refused a job; the message carries SLURM's own error text."""


@dataclass(frozen=True)
class SlurmConfig:
    """A validated cluster config of ``--executor slurm`` (see :data:`CONFIG_KEYS`).

    ``memory`` is in bytes; ``source`` names the file it came from.
    """

    source: str
    partition: str
    time: str
    account: str | None = None
    cores: int = 1
    memory: int | None = None
    venv: str | None = None
    modules: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()
    job_name: str | None = None
    max_running: int | None = None
    sbatch_options: tuple[str, ...] = ()


def _valid_keys() -> str:
    return "; ".join(f"{k}: {v}" for k, v in CONFIG_KEYS.items())


def load_slurm_config(source: str | Path | Mapping[str, Any]) -> SlurmConfig:
    """Read and check a cluster config for ``--executor slurm``.

    Parameters
    ----------
    source
        The YAML file (or an already parsed mapping, named ``cluster config`` in messages).

    Raises
    ------
    ConfigError
        Naming the file, the key and what would be valid: a missing required key, an
        unknown key, a value of the wrong form, no environment (``venv``, ``modules`` or
        ``setup``), a ``venv`` without ``bin/activate``.
    """
    if isinstance(source, Mapping):
        where, data = "cluster config", dict(source)
    else:
        where = str(source)
        data = load_yaml(Path(source), error=ConfigError, what="cluster config file")
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: a cluster config must be a mapping of keys; {_valid_keys()}")
    unknown = sorted(map(str, set(data) - set(CONFIG_KEYS)))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {unknown}; valid keys: {_valid_keys()} (this is the "
            "config of --executor slurm; --executor dask --cluster slurm takes "
            "dask-jobqueue's keys, see configs/clusters/slurm.example.yaml)"
        )
    for key in REQUIRED:
        if data.get(key) is None:
            raise ConfigError(f"{where}: {key}: missing; {key} is {CONFIG_KEYS[key]}")
    if not any(data.get(k) for k in ENVIRONMENT):
        raise ConfigError(
            f"{where}: venv, modules, setup: all missing; give at least one, so that a task "
            "finds mc-run: venv: /path/to/.venv, modules: [python/3.11] or setup: [shell lines]"
        )
    out: dict[str, Any] = {
        "partition": _word(data, "partition", where),
        "time": _time(data["time"], where),
    }
    if data.get("account") is not None:
        out["account"] = _word(data, "account", where)
    if data.get("job_name") is not None:
        out["job_name"] = _word(data, "job_name", where)
    for key in ("cores", "max_running"):
        v = data.get(key)
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{where}: {key}: expected an integer >= 1, got {short_repr(v)}")
            out[key] = v
    if data.get("memory") is not None:
        try:
            out["memory"] = parse_memory(data["memory"])
        except (ValueError, TypeError):
            raise ConfigError(
                f"{where}: memory: {short_repr(data['memory'])} is not a size (e.g. 512MB, 4GB)"
            ) from None
    if data.get("venv") is not None:
        out["venv"] = _venv(data["venv"], where)
    for key in ("modules", "setup", "sbatch_options"):
        if data.get(key) is not None:
            out[key] = _lines(data[key], key, where)
    for m in out.get("modules", ()):
        if not _WORD.match(m):
            raise ConfigError(f"{where}: modules: {short_repr(m)} is not a module name")
    for opt in out.get("sbatch_options", ()):
        if not opt.startswith("-"):
            raise ConfigError(
                f"{where}: sbatch_options: {short_repr(opt)} is not an sbatch option "
                "(e.g. --qos=long)"
            )
    return SlurmConfig(source=where, **out)


def _word(data: Mapping[str, Any], key: str, where: str) -> str:
    v = data[key]
    if not isinstance(v, str | int) or isinstance(v, bool) or not _WORD.match(str(v)):
        raise ConfigError(
            f"{where}: {key}: expected a name (letters, digits, _ . , - and the like), got "
            f"{short_repr(v)}; {key} is {CONFIG_KEYS[key]}"
        )
    return str(v)


def _time(v: Any, where: str) -> str:
    text = str(v) if isinstance(v, int) and not isinstance(v, bool) else v
    if not isinstance(text, str) or not _TIME.match(text):
        raise ConfigError(
            f"{where}: time: {short_repr(v)} is not a SLURM time limit; use minutes, "
            "MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (quote it in YAML: '02:00:00')"
        )
    return text


def _venv(v: Any, where: str) -> str:
    if not isinstance(v, str) or not v:
        raise ConfigError(f"{where}: venv: expected the directory of a virtual environment")
    path = Path(os.path.expandvars(os.path.expanduser(v)))
    if not path.is_absolute() or not (path / "bin" / "activate").is_file():
        raise ConfigError(
            f"{where}: venv: {short_repr(v)} is not a virtual environment (expected an absolute "
            f"path with bin/activate; {path / 'bin' / 'activate'} not found)"
        )
    return str(path)


def _lines(v: Any, key: str, where: str) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
        raise ConfigError(f"{where}: {key}: expected a list of strings; {CONFIG_KEYS[key]}")
    if any("\n" in x or "\r" in x for x in v):
        raise ConfigError(f"{where}: {key}: one line per list entry (no line breaks)")
    return tuple(v)


def check_path(path: Path, what: str) -> None:
    """Refuse a path an ``#SBATCH`` line cannot carry (spaces, quotes, ``%``)."""
    if not _SAFE_PATH.match(str(path)):
        raise ConfigError(
            f"{path}: the {what} of a SLURM job array may hold only letters, digits and "
            "_ . , + = @ : / ~ - (SLURM's #SBATCH lines take no quotes and treat % as a "
            "pattern); choose another --dir"
        )


def batch_script(
    config: SlurmConfig,
    *,
    job_name: str,
    n_tasks: int,
    resources: Mapping[str, float],
    output: Path,
    workdir: Path,
    command: Sequence[str],
    comment: Iterable[str] = (),
) -> str:
    """The batch script of one job array.

    Parameters
    ----------
    config
        The cluster config.
    job_name
        The job name (``config.job_name`` wins).
    n_tasks
        Tasks of the array (``--array=0-<n_tasks - 1>``).
    resources
        What one task needs (:func:`mc_experiments.sweep.group_resources`): ``cores`` ->
        ``--cpus-per-task``, ``memory`` (bytes) -> ``--mem`` (MiB, rounded up), ``gpu`` ->
        ``--gres=gpu:N``; the config's ``cores``/``memory`` where they give none.
    output
        The output file pattern of every task (``%A_%a`` in it: array job id and task).
    workdir
        The directory tasks start in (``--chdir``: where the command was given).
    command
        The task's command; ``$SLURM_ARRAY_TASK_ID`` is appended as its last argument.
    comment
        Lines for the script's header comment.
    """
    cores = math.ceil(resources.get("cores") or config.cores)
    memory = resources.get("memory") or config.memory
    gpus = math.ceil(resources.get("gpu") or 0)
    array = f"0-{n_tasks - 1}" + (f"%{config.max_running}" if config.max_running else "")
    directives = [
        f"--job-name={config.job_name or job_name}",
        f"--array={array}",
        f"--partition={config.partition}",
        *([f"--account={config.account}"] if config.account else []),
        f"--time={config.time}",
        "--nodes=1",
        "--ntasks=1",
        f"--cpus-per-task={cores}",
        *([f"--mem={math.ceil(memory / 2**20)}M"] if memory else []),
        *([f"--gres=gpu:{gpus}"] if gpus else []),
        "--requeue",  # a preempted or requeued task starts again and resumes
        "--open-mode=append",  # ... and its output goes on in the same file
        f"--output={output}",
        f"--chdir={workdir}",
        *config.sbatch_options,
    ]
    lines = ["#!/bin/bash", *(f"# {c}" for c in comment)]
    lines += [f"#SBATCH {d}" for d in directives]
    lines += ["", "set -e"]
    lines += [f"module load {m}" for m in config.modules]
    if config.venv:
        lines.append(f"source {shlex.quote(str(Path(config.venv) / 'bin' / 'activate'))}")
    lines += list(config.setup)
    lines += [
        "# SIGTERM (scancel, preemption, requeue, the time limit) reaches mc-run itself: it",
        "# records the members as interrupted at their last checkpoint",
        f'exec {shlex.join(command)} "$SLURM_ARRAY_TASK_ID"',
        "",
    ]
    return "\n".join(lines)


def check_commands(*names: str, who: str = "--executor slurm") -> None:
    """Raise :class:`SlurmUnavailable` unless every command in ``names`` is on ``PATH``."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        hint = ""
        if who == "--executor slurm":
            hint = "; --dry-run writes the batch script without them"
        raise SlurmUnavailable(
            f"{who} needs the batch system's {', '.join(names)} on PATH; not found: "
            f"{', '.join(missing)} (run it on a machine that submits jobs, e.g. a login node, "
            f"or after `module load slurm`{hint})"
        )


def _run(
    args: Sequence[str], timeout: float = 60, stdin: str | None = None
) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            list(args), capture_output=True, text=True, timeout=timeout, check=False, input=stdin
        )
    except FileNotFoundError:
        check_commands(args[0])
        raise
    except subprocess.TimeoutExpired:
        raise JobRejected(
            f"{args[0]}: no answer from SLURM within {timeout:g} s (is slurmctld reachable?)"
        ) from None


def sbatch(script: Path) -> str:
    """Submit ``script``; returns the job id.

    Raises
    ------
    JobRejected
        With SLURM's error text when sbatch refuses the job.
    """
    check_commands("sbatch")
    done = _run(["sbatch", "--parsable", str(script)])
    text = (done.stderr or "").strip() or (done.stdout or "").strip()
    if done.returncode != 0:
        raise JobRejected(f"sbatch failed with exit status {done.returncode}:\n{text}")
    job_id = done.stdout.strip().split(";")[0]
    if not job_id.isdigit():
        raise JobRejected(f"{script}: sbatch gave no job id: {short_repr(done.stdout)}")
    return job_id


def test_job(script: str, what: str) -> None:
    """Ask SLURM whether it would take ``script`` (``sbatch --test-only``; nothing is submitted).

    Raises
    ------
    JobRejected
        With SLURM's error text, naming ``what`` the script is.
    """
    check_commands("sbatch")
    done = _run(["sbatch", "--test-only"], stdin=script)
    if done.returncode != 0:
        text = "\n".join(x for x in (done.stdout.strip(), done.stderr.strip()) if x)
        raise JobRejected(f"SLURM would refuse {what} (sbatch --test-only):\n{text}")


def queued_tasks(job_ids: Iterable[str]) -> dict[str, str]:
    """The tasks of ``job_ids`` that SLURM still holds: ``"123_4"`` -> ``"PENDING"`` etc.

    Finished jobs are not listed. Raises :class:`JobRejected` when squeue fails otherwise.
    """
    ids = sorted(set(job_ids), key=int)
    if not ids:
        return {}
    check_commands("squeue")
    done = _run(["squeue", "--noheader", "--array", "--jobs", ",".join(ids), "--format=%i %T"])
    if done.returncode != 0:
        if "Invalid job id" in done.stderr:  # all of them finished long ago
            return {}
        raise JobRejected(f"squeue failed (exit {done.returncode}): {done.stderr.strip()}")
    out = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = parts[1]
    return out
