"""Code is loaded only from directories no other user can write (kernel and GeNN caches)."""

from __future__ import annotations

import os
import stat
import tempfile

import pytest

from mc_network.backends import _modcache

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def no_home_cache(tmp_path, monkeypatch):
    """``~/.cache`` cannot be written; the temporary directory is ``tmp_path/tmp``."""
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file" / "cache"))
    monkeypatch.delenv("MC_NETWORK_KERNEL_DIR", raising=False)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def _plant(tmp, mode=0o777, uid=None):
    """What another user would leave: the fallback folders (old and new name), open to all."""
    dirs = [tmp / "mc-network-kernels", _modcache.fallback_dir()]
    for d in dirs:
        d.mkdir()
        d.chmod(mode)
        if uid is not None:
            os.chown(d, uid, uid)
    return dirs


def test_fallback_folder_writable_by_others_is_refused(no_home_cache, tmp_path):
    _plant(no_home_cache)
    source = f"X = 1  # {tmp_path}\n"
    with pytest.raises(PermissionError) as err:
        _modcache.import_source(source, "test_planted_")
    msg = str(err.value)
    assert str(_modcache.fallback_dir()) in msg and "MC_NETWORK_KERNEL_DIR" in msg
    assert "writable by its group and others (mode 0o777)" in msg
    assert not list(no_home_cache.rglob("*.py"))  # nothing written there, nothing imported


@pytest.mark.skipif(not ROOT, reason="giving a folder to another user needs root")
def test_fallback_folder_of_another_user_is_refused(no_home_cache, tmp_path):
    _plant(no_home_cache, mode=0o755, uid=65534)
    with pytest.raises(PermissionError, match="is owned by uid 65534, not by this user"):
        _modcache.import_source(f"X = 2  # {tmp_path}\n", "test_planted_")


def test_fresh_fallback_folder_is_private(no_home_cache, tmp_path, caplog):
    module = _modcache.import_source(f"X = 3  # {tmp_path}\n", "test_fresh_")
    assert module.X == 3
    folder = _modcache.fallback_dir()
    assert module.__file__.startswith(str(folder) + os.sep)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert "is not writable" in caplog.text  # the fallback says why it was needed


def test_kernel_directory_writable_by_others_is_refused_not_bypassed(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o775)
    monkeypatch.setenv("MC_NETWORK_KERNEL_DIR", str(shared))
    with pytest.raises(PermissionError, match=r"writable by its group \(mode 0o775\)"):
        _modcache.import_source(f"X = 4  # {tmp_path}\n", "test_shared_")
    assert not list(_modcache.fallback_dir().glob("test_shared_*"))  # no silent fallback


def test_private_dir_creates_0700_and_checks_what_exists(tmp_path):
    from mc_network.privatedir import UnsafeDirectory, check_private_dir, private_dir

    d = private_dir(tmp_path / "a" / "b", what="GeNN code cache", env="MC_GENN_CACHE")
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert check_private_dir(tmp_path / "missing", what="x", env="Y") == tmp_path / "missing"
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="set MC_GENN_CACHE"):
        check_private_dir(tmp_path / "file", what="GeNN code cache", env="MC_GENN_CACHE")
    d.chmod(0o702)
    with pytest.raises(UnsafeDirectory, match=r"writable by others \(mode 0o702\).*MC_GENN_CACHE"):
        private_dir(d, what="GeNN code cache", env="MC_GENN_CACHE")


@pytest.mark.skipif(not ROOT, reason="a symbolic link of another user needs root")
def test_symbolic_link_of_another_user_is_refused(tmp_path):
    from mc_network.privatedir import check_private_dir, private_dir

    mine = private_dir(tmp_path / "mine", what="x", env="Y")
    link = tmp_path / "link"
    link.symlink_to(mine)
    os.lchown(link, 65534, 65534)
    with pytest.raises(PermissionError, match="symbolic link owned by uid 65534"):
        check_private_dir(link, what="kernel cache", env="MC_NETWORK_KERNEL_DIR")
