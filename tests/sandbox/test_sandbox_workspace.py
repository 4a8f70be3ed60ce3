"""Workspace mechanics behind the backends: ownership, writable binds, isolation between sandboxes,
odd files, and cleanup after a crashed process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sbhelpers import FILES, PODMAN

from codekiln.core.protocols import Limits
from codekiln.sandbox.base import KEPT_EXTENSIONS, SANDBOX_UID, Bind, SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.sandbox.workspace import STAGE_ROOT, sweep_stale

pytestmark = pytest.mark.root  # bwrap and podman workspaces: mounts, idmaps, the sandbox uid


def test_snapshot_owned_by_the_sandbox_uid_needs_no_idmap(open_sb, snapshot, tmp_path, venv):
    own = tmp_path / "own"
    shutil.copytree(snapshot, own, symlinks=True)
    subprocess.run(["chown", "-R", f"{SANDBOX_UID}:{SANDBOX_UID}", str(own)], check=True)
    with BwrapSandbox(SandboxSpec(snapshot=own, venv=venv)) as sb:
        assert sb.ws.mode == "overlay" and sb.ws.stage is not None
        assert not (sb.ws.stage / "lower").exists()
        assert (
            sb.exec("echo x >> README.md && touch new && stat -c %u README.md new").stdout
            == f"{SANDBOX_UID}\n" * 2
        )
        assert "+x" in sb.diff()


@pytest.mark.parametrize("backend", ["bwrap", PODMAN])
def test_writable_venv_and_binds_keep_host_ownership(open_sb, tmp_path, backend):
    venv, shared, ro = tmp_path / "venv", tmp_path / "shared", tmp_path / "ro"
    for path in (venv, shared, ro):
        path.mkdir()
    sb = open_sb(
        backend, venv=venv, venv_writable=True, binds=[Bind(shared, "/shared", rw=True), Bind(ro, "/ro")]
    )
    res = sb.exec("touch /opt/venv/installed /shared/made && touch /ro/nope")
    assert res.stderr == "touch: cannot touch '/ro/nope': Read-only file system\n"
    assert (venv / "installed").stat().st_uid == 0 and (shared / "made").stat().st_uid == 0


def test_sandboxes_on_one_snapshot_do_not_see_each_other(open_sb):
    first, second = open_sb("bwrap"), open_sb("bwrap")
    first.exec("echo first > mine.txt && echo first > /tmp/t")
    res = second.exec("ls mine.txt; ls /tmp")
    assert res.stdout == "" and "No such file" in res.stderr
    assert second.diff() == "" and first.diff() != ""


def test_special_files_are_refused_not_waited_on(open_sb):
    sb = open_sb("bwrap")
    sb.exec("mkfifo pipe")
    with pytest.raises(PermissionError, match="not a regular file"):
        sb.read_file("pipe")
    with pytest.raises(PermissionError, match="not a regular file"):
        sb.write_file("pipe", "x")
    with pytest.raises(IsADirectoryError):
        sb.read_file("pkg")
    assert sb.read_file("/testbed/pkg/../README.md") == FILES["README.md"]


def test_workspace_of_a_killed_process_is_swept(snapshot, venv):
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from codekiln.sandbox.bwrap import BwrapSandbox
        from codekiln.sandbox.base import SandboxSpec
        sb = BwrapSandbox(SandboxSpec(snapshot=Path({str(snapshot)!r}), venv=Path({str(venv)!r})))
        sb.exec("echo dirty > README.md")
        sb.diff()
        print(sb.ws.stage, sb.ws.state, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=os.environ)
    assert child.returncode == -signal.SIGKILL, child.stderr
    stage, state = (Path(p) for p in child.stdout.split())
    assert stage.parent == STAGE_ROOT and os.path.ismount(stage / "testbed") and state.is_dir()
    assert sweep_stale() >= 1
    assert not stage.exists() and not state.exists()
    assert str(stage) not in Path("/proc/self/mountinfo").read_text()


def test_copy_workspace_survives_without_overlay(open_sb):
    sb = open_sb("bwrap-copy", limits=Limits(timeout_s=60))
    assert sb.ws.mode == "copy"
    assert sb.exec("stat -c %u README.md").stdout == f"{SANDBOX_UID}\n"
    sb.exec("echo changed > README.md")
    sb.reset()
    assert sb.read_file("README.md") == FILES["README.md"]


DEEP = "cd {where} && python3 -c \"import os\nfor _ in range(1500): os.mkdir('d'); os.chdir('d')\nopen('x', 'w').write('x')\""


@pytest.mark.parametrize("backend", ["bwrap", "bwrap-copy"])
def test_a_tree_deeper_than_pythons_recursion_limit_is_listed_and_reset(open_sb, backend):
    """Python 3.11's os.walk and shutil.rmtree recurse once per level: a 1,500-level tree in the
    workspace and /tmp (what a patch or a test can make) raised RecursionError out of `changed`,
    `reset` and `close`, and so out of the grader, which lost the episode instead of scoring it."""
    sb = open_sb(backend, limits=Limits(timeout_s=60))
    assert sb.exec(DEEP.format(where="/testbed")).exit_code == 0
    assert sb.exec(DEEP.format(where="/tmp")).exit_code == 0
    deep = "/".join(["d"] * 1500)
    assert sb.changed()[f"{deep}/x"] == "file"
    sb.reset()
    assert sb.changed() == {} and sb.exec("ls -A /tmp; test -e d || echo gone").stdout == "gone\n"
    assert sb.exec(DEEP.format(where="/testbed")).exit_code == 0
    sb.close()  # a copied workspace is deleted from the host's disk
    assert not sb.ws.state.exists()


@pytest.mark.parametrize("backend", ["bwrap", "bwrap-copy"])
def test_hide_leaves_a_fresh_workspace_as_rm_rf_would(open_sb, backend):
    # The grader hides .git this way (one whiteout instead of one per file); only a fresh overlay can.
    sb, twin = open_sb(backend), open_sb(backend)
    hidden = sb.hide([".git", "pkg"])
    assert hidden is (backend == "bwrap")
    if not hidden:
        return
    twin.exec("rm -rf .git pkg")
    assert (
        sb.changed((".git", "pkg")) == twin.changed((".git", "pkg")) == {".git": "deleted", "pkg": "deleted"}
    )
    assert sb.exec("ls -A").stdout == twin.exec("ls -A").stdout == ".gitignore\nREADME.md\ndata\ntests\n"
    sb.exec("mkdir pkg && echo new > pkg/mod.py")  # written over as over any removed folder
    assert sb.read_file("pkg/mod.py") == b"new\n" and not sb.exec("test -e pkg/__init__.py").ok
    assert sb.hide(["README.md"]) is False  # written to: the caller removes it itself
    sb.reset()
    assert sb.read_file("pkg/__init__.py") == b"" and sb.exec("test -d .git").ok


@pytest.mark.parametrize("backend", ["bwrap", "bwrap-copy"])
def test_the_environments_compiled_extensions_show_in_the_tree_and_are_never_a_change(
    open_sb, tmp_path, backend
):
    """A venv's `codekiln-ext` (compiled modules its build made in the source tree) shows in /testbed at
    the same paths, as after an editable install (a test walking its package directory finds them), and
    is part of what the tree starts from: no diff, no change, back after a reset; a change to one is one."""
    venv = tmp_path / "venv"
    (venv / KEPT_EXTENSIONS / "pkg").mkdir(parents=True)
    (venv / KEPT_EXTENSIONS / "pkg" / "_fast.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF binary")
    (venv / KEPT_EXTENSIONS / "build" / "lib").mkdir(parents=True)  # a folder the snapshot lacks
    (venv / KEPT_EXTENSIONS / "build" / "lib" / "_fast.so").write_bytes(b"\x7fELF too")
    sb = open_sb(backend, venv=venv)
    listing = sb.exec("python3 -c \"import os; print(sorted(os.listdir('pkg')))\"").stdout
    assert "_fast.cpython-311-x86_64-linux-gnu.so" in listing and "__init__.py" in listing
    assert sb.read_file("build/lib/_fast.so") == b"\x7fELF too"
    assert sb.diff() == "" and sb.changed() == {}
    sb.exec("echo changed >> README.md")
    assert sb.changed() == {"README.md": "file"} and "_fast" not in sb.diff()
    sb.reset()
    assert (
        sb.changed() == {} and sb.read_file("pkg/_fast.cpython-311-x86_64-linux-gnu.so") == b"\x7fELF binary"
    )
    so = "pkg/_fast.cpython-311-x86_64-linux-gnu.so"
    assert sb.exec(
        f"rm -f {so} && echo x > {so}"
    ).ok  # replaced: now a change (it is read-only, its folder not)
    assert so in sb.changed() and so in sb.diff()
