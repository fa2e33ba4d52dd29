"""A real one-node SLURM cluster on this machine, and the tests marked ``slurm`` against it.

Run by ``nox -s cluster`` (``python tests/cluster/slurm_cluster.py [PYTEST ARGS]``) as root on
Debian or Ubuntu:

1. installs ``slurmctld slurmd slurm-client munge`` with apt-get unless they are there;
2. writes, in a private temporary directory, a munge key and a ``slurm.conf`` for one node
   with this machine's CPUs and memory (as ``slurmd -C`` reports them), one partition
   ``debug``, free ports and its own munge socket (nothing in ``/etc`` is touched, and a
   SLURM or munge already running here is left alone);
3. starts ``munged``, ``slurmctld`` and ``slurmd`` and waits until the node is idle;
4. runs ``pytest -m slurm`` on the mc-experiments tests with ``SLURM_CONF`` and
   ``MC_TEST_SLURM_PARTITION`` set (the tests submit real jobs: both sweep executors,
   preemption, SLURM's refusals);
5. cancels every job left, stops the daemons and removes the directory, also when the tests
   fail or the script is interrupted (Ctrl-C, SIGTERM); the daemons' logs are printed when
   something failed.

Requeued jobs wait ``cred_expire`` seconds before they start again; the cluster sets it to
5 s (SLURM's default is 120 s) so that the preemption test stays short.

The exit status is pytest's (or 2 when the cluster could not be set up).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("slurm_cluster")
ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
COMMANDS = ("slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo", "munged")
PARTITION = "debug"
TESTS = ["packages/mc-experiments/tests", "-m", "slurm"]


class SetupFailed(RuntimeError):
    """The cluster could not be installed or started."""


def sh(*cmd: str, env: dict | None = None, check: bool = True, timeout: float = 120) -> str:
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise SetupFailed(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout}{res.stderr}")
    return res.stdout


def install() -> None:
    """apt-get install SLURM and munge unless every command is on PATH already."""
    missing = [c for c in COMMANDS if shutil.which(c) is None]
    if not missing:
        log.info("SLURM and munge are installed (%s)", sh("slurmctld", "-V").strip())
        return
    if shutil.which("apt-get") is None:
        raise SetupFailed(f"{', '.join(missing)} not found and no apt-get to install them")
    log.info("installing %s (missing: %s)", " ".join(PACKAGES), ", ".join(missing))
    t0 = time.monotonic()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sh("apt-get", "update", "-q", env=env, timeout=600)
    sh("apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES, env=env, timeout=900)
    log.info("installed in %.0f s: %s", time.monotonic() - t0, sh("slurmctld", "-V").strip())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_line() -> tuple[str, str]:
    """This machine as a slurm.conf node: its name and ``CPUs=... RealMemory=...``."""
    first = sh("slurmd", "-C").splitlines()[0]
    m = re.match(r"NodeName=(\S+)\s+(.*)", first)
    if not m or "CPUs=" not in first or "RealMemory=" not in first:
        raise SetupFailed(f"slurmd -C gave no node description: {first!r}")
    return m.group(1), m.group(2)


def write_config(d: Path) -> tuple[Path, Path]:
    """The munge key and slurm.conf in ``d``; returns (slurm.conf, munge socket)."""
    for sub, mode in (("munge", 0o700), ("socket", 0o755), ("state", 0o700), ("spool", 0o755)):
        (d / sub).mkdir(mode=mode)
        (d / sub).chmod(mode)
    (d / "log").mkdir()
    key = d / "munge" / "munge.key"
    key.write_bytes(secrets.token_bytes(1024))
    key.chmod(0o400)
    name, hardware = node_line()
    cpus = int(re.search(r"CPUs=(\d+)", hardware).group(1))
    memory = int(re.search(r"RealMemory=(\d+)", hardware).group(1))
    sock = d / "socket" / "munge.socket"
    conf = d / "slurm.conf"
    conf.write_text(
        "\n".join(
            [
                "# one-node test cluster of tests/cluster/slurm_cluster.py",
                "ClusterName=mctest",
                f"SlurmctldHost={name}(127.0.0.1)",
                f"SlurmctldPort={free_port()}",
                f"SlurmdPort={free_port()}",
                "SlurmUser=root",
                "SlurmdUser=root",
                "AuthType=auth/munge",
                "CredType=cred/munge",
                # requeued jobs wait cred_expire seconds before they start again (default 120)
                f"AuthInfo=socket={sock},cred_expire=5",
                f"StateSaveLocation={d / 'state'}",
                f"SlurmdSpoolDir={d / 'spool'}",
                f"SlurmctldPidFile={d / 'slurmctld.pid'}",
                f"SlurmdPidFile={d / 'slurmd.pid'}",
                f"SlurmctldLogFile={d / 'log' / 'slurmctld.log'}",
                f"SlurmdLogFile={d / 'log' / 'slurmd.log'}",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "JobAcctGatherType=jobacct_gather/none",
                "AccountingStorageType=accounting_storage/none",
                "MpiDefault=none",
                "SchedulerType=sched/backfill",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_Core_Memory",
                f"DefMemPerCPU={memory // cpus}",
                "ReturnToService=2",
                f"NodeName={name} NodeAddr=127.0.0.1 {hardware} State=UNKNOWN",
                f"PartitionName={PARTITION} Nodes={name} Default=YES MaxTime=INFINITE State=UP",
                "",
            ]
        )
    )
    log.info("slurm.conf: node %s (%s), partition %s", name, hardware, PARTITION)
    return conf, sock


class Daemons:
    """munged, slurmctld and slurmd in the foreground, as children of this process."""

    def __init__(self, d: Path, conf: Path, sock: Path) -> None:
        self.d, self.conf, self.sock = d, conf, sock
        self.env = {**os.environ, "SLURM_CONF": str(conf)}
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def _start(self, name: str, *cmd: str) -> None:
        out = open(self.d / "log" / f"{name}.out", "wb")  # noqa: SIM115 (closed with the daemon)
        proc = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self.procs.append((name, proc))
        log.info("started %s (pid %d)", name, proc.pid)

    def start(self) -> None:
        d = self.d
        self._start(
            "munged",
            "munged",
            "--foreground",
            f"--key-file={d / 'munge' / 'munge.key'}",
            f"--socket={self.sock}",
            f"--pid-file={d / 'munge' / 'munged.pid'}",
            f"--log-file={d / 'log' / 'munged.log'}",
            f"--seed-file={d / 'munge' / 'munged.seed'}",
        )
        self._wait(lambda: self.sock.exists(), "munged's socket", 20)
        name = node_line()[0]
        self._start("slurmctld", "slurmctld", "-D", "-f", str(self.conf))
        self._wait(lambda: self._ok("scontrol", "ping"), "slurmctld to answer", 30)
        self._start("slurmd", "slurmd", "-D", "-N", name, "-f", str(self.conf))
        self._wait(self._idle, f"node {name} to be idle", 60)
        log.info("cluster up:\n%s", self.run("sinfo").rstrip())

    def _ok(self, *cmd: str) -> bool:
        res = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=30)
        return res.returncode == 0 and "DOWN" not in res.stdout

    def _idle(self) -> bool:
        return self.run("sinfo", "--noheader", "--Node", "--format=%t").strip() == "idle"

    def _wait(self, ready, what: str, timeout: float) -> None:
        t0 = time.monotonic()
        while not ready():
            for name, proc in self.procs:
                if proc.poll() is not None:
                    raise SetupFailed(f"{name} exited with status {proc.returncode}")
            if time.monotonic() - t0 > timeout:
                why = self.run("sinfo", "--list-reasons") if self.procs else ""
                raise SetupFailed(f"waited {timeout:g} s for {what}\n{why}".rstrip())
            time.sleep(0.2)

    def run(self, *cmd: str) -> str:
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=60).stdout

    def stop(self) -> None:
        """Cancel every job, then stop the daemons in reverse order (SIGTERM, then SIGKILL)."""
        if any(n == "slurmctld" and p.poll() is None for n, p in self.procs):
            self.run("scancel", f"--partition={PARTITION}")
            t0 = time.monotonic()
            while self.run("squeue", "--noheader").strip() and time.monotonic() - t0 < 60:
                time.sleep(0.5)
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            log.info("stopped %s (exit status %s)", name, proc.returncode)
        self.procs.clear()

    def show_logs(self) -> None:
        for path in sorted((self.d / "log").iterdir()):
            lines = path.read_text(errors="replace").splitlines()[-40:]
            head = f"--- {path.name} (last {len(lines)} lines)"
            sys.stderr.write("\n".join([head, *lines, ""]))


@contextmanager
def sigterm_unwinds():
    """SIGTERM ends this script like Ctrl-C: through every ``finally`` (daemons stopped)."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="[cluster] %(message)s")
    if os.geteuid() != 0:
        log.error("the test cluster needs root (to install SLURM and to run slurmd)")
        return 2
    t0 = time.monotonic()
    with sigterm_unwinds():
        try:
            install()
        except SetupFailed as err:
            log.error("%s", err)
            return 2
        d = Path(tempfile.mkdtemp(prefix="mc-slurm-"))
        d.chmod(0o755)  # munged wants its socket's directories searchable by all
        daemons = None
        ok = False
        try:
            conf, sock = write_config(d)
            daemons = Daemons(d, conf, sock)
            daemons.start()
            log.info("daemons started in %.0f s", time.monotonic() - t0)
            env = {**daemons.env, "MC_TEST_SLURM_PARTITION": PARTITION}
            cmd = [sys.executable, "-m", "pytest", *TESTS, "-v", "-rA", "--durations=0", *argv]
            log.info("$ %s", " ".join(cmd))
            rc = subprocess.run(cmd, cwd=ROOT, env=env).returncode
            ok = rc == 0
            return rc
        except SetupFailed as err:
            log.error("%s", err)
            return 2
        finally:
            if daemons is not None:
                if not ok:
                    daemons.show_logs()
                daemons.stop()
            shutil.rmtree(d, ignore_errors=True)
            log.info("daemons stopped; %.0f s in all", time.monotonic() - t0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
