"""One attack per test on the isolating backends, each asserting the exact outcome."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sbhelpers import ISOLATING, live_pids, wait_until

from codekiln.agents import Agent
from codekiln.core.protocols import Limits
from codekiln.models.scripted import ScriptedModel
from codekiln.rollouts import agent_patch
from codekiln.sandbox import change_bytes
from codekiln.sandbox.base import SANDBOX_UID
from codekiln.sandbox.common import python_prefixes
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.parametrize("backend", ISOLATING)


@pytest.fixture
def host_secret(token: str) -> Iterator[Path]:
    """A file in the host's /root that no sandbox may read."""
    path = Path("/root") / f"{token}-secret"
    try:
        path.write_text("host secret\n")
    except OSError as err:
        pytest.skip(f"cannot plant a secret in /root: {err}")
    yield path
    path.unlink()


def test_network_is_unreachable(open_sb, backend):
    sb = open_sb(backend)
    res = sb.exec(["python", "-c", "import socket; socket.create_connection(('1.1.1.1', 80), timeout=10)"])
    assert res.exit_code == 1
    assert res.stderr.endswith("OSError: [Errno 101] Network is unreachable\n")


def test_writes_outside_the_workspace_fail(open_sb, backend, token):
    sb = open_sb(backend)
    targets = ["/usr", "/etc", "", "/opt/venv", "/root"]
    res = sb.exec("; ".join(f"touch {t}/{token}" for t in targets) + "; touch ok")
    assert res.stderr.splitlines() == [
        f"touch: cannot touch '{t}/{token}': Read-only file system" for t in targets
    ]
    assert res.exit_code == 0 and sb.read_file("ok") == b""
    assert not any(Path(f"{t}/{token}").exists() for t in targets)


def test_host_file_api_does_not_follow_symlinks_out(open_sb, backend, host_secret, token):
    sb = open_sb(backend)
    sb.exec(f"ln -s {host_secret} leak && ln -s /etc etc-link")
    with pytest.raises(FileNotFoundError):
        sb.read_file("leak")
    with pytest.raises(PermissionError, match="Read-only file system"):
        sb.write_file(f"etc-link/{token}", "pwned")
    assert not Path("/etc", token).exists()


def test_root_is_unreadable(open_sb, backend, host_secret, venv):
    sb = open_sb(backend)
    res = sb.exec(f"ls -A /root; cat {host_secret}")
    # Only the way to the Python install(s) the venv needs shows (pyenv keeps them in /root here).
    shown = {p.relative_to("/root").parts[0] for p in python_prefixes(venv) if p.is_relative_to("/root")}
    assert res.stdout.split() == sorted(shown)
    assert res.stderr == f"cat: {host_secret}: No such file or directory\n" and res.exit_code == 1


def test_fork_bomb_is_contained(open_sb, backend, token):
    sb = open_sb(backend, limits=Limits(timeout_s=3, max_procs=64))
    res = sb.exec(f"{token}() {{ {token} | {token} & }}; {token}; sleep 60")
    assert (res.timed_out, res.killed, res.exit_code) == (True, "timeout", -9)
    assert "fork: retry: Resource temporarily unavailable" in res.stderr
    assert live_pids(token) == []
    assert sb.exec("echo alive").stdout == "alive\n"


def test_memory_hog_gets_memory_error(open_sb, backend):
    sb = open_sb(backend, limits=Limits(timeout_s=60, memory_mb=256))
    res = sb.exec(["python", "-c", "x = bytearray(1 << 30)"])
    assert (res.exit_code, res.killed, res.timed_out) == (1, None, False)
    assert res.stderr.endswith("\nMemoryError\n")


def test_infinite_loop_is_killed_at_the_timeout(open_sb, backend):
    sb = open_sb(backend)
    res = sb.exec("while :; do :; done", timeout=1)
    assert (res.timed_out, res.killed, res.exit_code) == (True, "timeout", -9)


def test_cpu_time_limit_kills_with_sigxcpu(open_sb, backend):
    sb = open_sb(backend, limits=Limits(timeout_s=120, cpu_s=1))
    res = sb.exec(["python", "-c", "while True: pass"])
    assert (res.exit_code, res.killed, res.timed_out) == (128 + 24, "cpu", False)


def test_gigabytes_of_output_are_capped_and_cut_short(open_sb, backend):
    cap = 1 << 20
    sb = open_sb(backend, limits=Limits(timeout_s=120, max_output_bytes=cap))
    res = sb.exec("head -c 5000000000 /dev/zero | tr '\\0' y")
    assert (res.truncated, res.killed, res.timed_out) == (True, "output", False)
    assert res.stdout == "y" * cap


def test_file_size_limit(open_sb, backend):
    sb = open_sb(backend, limits=Limits(timeout_s=60, max_file_mb=1))
    res = sb.exec("head -c 3000000 /dev/zero > big")
    assert (res.exit_code, res.killed) == (128 + 25, "file_size")
    assert len(sb.read_file("big")) == 1 << 20


def test_disk_use_is_capped(open_sb, backend):
    sb = open_sb(backend, limits=Limits(timeout_s=60, extra={"disk_mb": 8}))
    res = sb.exec("for i in 1 2 3 4; do head -c 3000000 /dev/zero > f$i || exit 9; done")
    assert res.exit_code == 9 and res.stderr.endswith("No space left on device\n")


def test_the_number_of_files_is_capped_with_the_disk(open_sb, backend):
    """`disk_mb` capped the workspace's bytes only: empty files cost the host ~2 KiB of kernel memory
    each (up to half its RAM in count), and 300,000 took 650 MB while `df` showed the workspace empty."""
    sb = open_sb(backend, limits=Limits(timeout_s=60, extra={"disk_mb": 16}))  # 4,096 files
    res = sb.exec("mkdir d && for i in $(seq 5000); do : > d/$i || exit 9; done")
    assert res.exit_code == 9 and res.stderr.endswith("No space left on device\n")


def test_process_ignoring_sigterm_dies_at_the_timeout(open_sb, backend, token):
    sb = open_sb(backend)
    res = sb.exec(f"trap '' TERM; bash -c 'exec -a {token} sleep 1000'", timeout=1)
    assert (res.timed_out, res.killed, res.exit_code) == (True, "timeout", -9)
    assert live_pids(token) == []


def test_children_that_outlive_their_parent(open_sb, backend, token):
    sb = open_sb(backend)
    res = sb.exec(
        f"(setsid bash -c 'exec -a {token}-setsid sleep 1000' &); "
        f"nohup bash -c 'exec -a {token}-nohup sleep 1000' >/dev/null 2>&1 & echo started"
    )
    assert res.stdout == "started\n" and not res.timed_out  # exec did not wait for them
    if backend == "bwrap":  # a PID namespace per command: nothing outlives exec
        assert live_pids(token) == []
        return
    # A container keeps them (documented) until reset or close. They may still be exec'ing: wait.
    assert wait_until(lambda: len(live_pids(token)) == 2)
    sb.reset()
    assert live_pids(token) == []
    sb.exec(f"nohup bash -c 'exec -a {token}-again sleep 1000' >/dev/null 2>&1 &")
    sb.close()
    assert live_pids(token) == []


def test_no_way_back_to_root(open_sb, backend):
    sb = open_sb(backend)
    res = sb.exec("id -u; su -c id root < /dev/null")
    assert res.stdout == f"{SANDBOX_UID}\n" and res.exit_code == 1
    if backend == "bwrap":
        res = sb.exec("unshare -r id")
        assert res.stderr == "unshare: unshare failed: No space left on device\n"


def test_dev_holds_no_unbounded_memory(open_sb, backend):
    """bwrap's /dev was a writable tmpfs of half the host's RAM, outside the workspace's disk limit: one
    command could park gigabytes of host memory there. /dev is read-only; /dev/shm is a small tmpfs
    that still serves multiprocessing's semaphores."""
    if backend != "bwrap":
        pytest.skip("the bwrap backend's /dev (podman has its own)")
    sb = open_sb(backend)
    res = sb.exec("echo x > /dev/parked; head -c 70000000 /dev/zero > /dev/shm/big; rm /dev/shm/big")
    assert res.stderr.splitlines() == [
        "/bin/bash: line 1: /dev/parked: Read-only file system",
        "head: error writing 'standard output': No space left on device",
    ]
    lock = sb.exec(["python", "-c", "import multiprocessing as m; m.Lock(); print('ok')"])
    assert lock.stdout == "ok\n", lock.stderr


# The seventh red team (tests/audit/test_redteam7_agent.py has the same attacks through `codekiln rollout`).
NO_TASK = TaskRecord.model_construct(instance_id="t", bug_patch="", hidden_tests=[])


def test_the_only_writable_places_are_the_workspace_tmp_and_shm(open_sb, backend):
    """podman's --read-only mounted /run and /var/tmp as tmpfs of half the host's RAM, /var/tmp writable
    by anyone and kept between commands: outside `disk_mb`, against what the backend's docstring said."""
    sb = open_sb(backend)
    skip = " -o ".join(f"-path {p}" for p in ("/proc", "/sys", "/testbed", "/tmp"))
    found = f"find / \\( {skip} \\) -prune -o -type d -writable -print 2>/dev/null"
    res = sb.exec(f'{found} | while read -r d; do touch "$d/.w" 2>/dev/null && echo "$d"; done | sort')
    shared = {"bwrap": [], "podman": ["/dev/mqueue"]}[backend]  # the container's own IPC namespace
    assert res.stdout.split() == [*shared, "/dev/shm"]


def test_nothing_the_agent_started_runs_while_its_change_is_read(open_sb, backend, token):
    """A container keeps background processes between commands: one the agent left could go on writing
    while the host sized its change and read it whole (past `MAX_CHANGE_BYTES`). The episode's end stops
    them; the workspace stays."""
    sb = open_sb(backend)
    start = f"nohup bash -c 'exec -a {token} sleep 1000' >/dev/null 2>&1 & echo kept > kept.txt"
    script = [
        {"content": "", "tool_calls": [{"name": "bash", "arguments": {"command": start}}]},
        {"content": "", "tool_calls": [{"name": "submit", "arguments": {}}]},
    ]
    traj = Agent("swe").run("a task", sb, ScriptedModel(script))
    assert traj.exit_reason == "submitted" and live_pids(token) == []
    assert "+kept\n" in traj.diff and sb.read_file("kept.txt") == b"kept\n"


def test_a_change_weighs_at_least_its_diff(open_sb, backend):
    """Empty files with long names, links with long targets and a deleted file weighed nothing (only
    files' sizes counted), so their diff of any size was read and stored."""
    sb = open_sb(backend)
    make = "for i in $(seq 100); do : > $(printf '%0200d' $i); ln -s $(printf '%04000d' $i) l$i; done"
    sb.exec(f"{make}; rm data/blob.bin")
    assert len(sb.diff().encode(errors="surrogateescape")) <= change_bytes(sb) < 2 * len(sb.diff())


def test_a_nested_repository_does_not_break_the_diff(open_sb, backend):
    """`git add -A` failed on a folder holding a `.git` with no commit: the diff raised SandboxError,
    which masks an episode as the sandbox's failure."""
    sb = open_sb(backend)
    sb.exec("git init -q sub && echo x > sub/f && echo y > new.txt")
    assert "+++ b/new.txt\n" in sb.diff() and "sub/" not in sb.diff()


def test_links_in_a_change_are_not_followed(open_sb, backend):
    """Reading an agent's change followed each link inside the sandbox: a link to a FIFO with no writer
    held the reader a minute."""
    sb = open_sb(backend)
    sb.exec("mkfifo /tmp/f && ln -s /tmp/f a && ln -s /tmp/f b")
    began = time.monotonic()
    patch = agent_patch(NO_TASK, sb, sb.spec.snapshot)
    assert time.monotonic() - began < 30  # was 120 s: 60 s per link
    assert "diff --git a/a b/a\nnew file mode 120000\n--- /dev/null\n+++ b/a\n" in patch


def test_an_out_of_memory_container_writes_nothing_on_the_host(open_sb, backend, tmp_path, monkeypatch):
    """podman's container monitor writes a file `oom` into the directory it was started from: a command
    filling its memory cgroup (here with /tmp's pages) made one in the driver's working directory."""
    if backend != "podman":
        pytest.skip("a container's memory cgroup (bwrap limits memory per process)")
    monkeypatch.chdir(tmp_path)
    sb = open_sb(backend, limits=Limits(timeout_s=60, memory_mb=128))
    res = sb.exec("head -c 200000000 /dev/zero > /tmp/fill")
    assert res.exit_code == 137 and list(tmp_path.iterdir()) == []


def test_the_trees_attributes_do_not_break_the_diff(open_sb, backend):
    """A `.gitattributes` naming a `working-tree-encoding` that cannot decode the files made the host's
    `git add` die: SandboxError, which masks an episode as the sandbox's failure."""
    sb = open_sb(backend)
    sb.exec("printf '* working-tree-encoding=UTF-16\\n' > .gitattributes && echo y > new.txt")
    diff = sb.diff()
    assert "+++ b/new.txt\n@@ -0,0 +1 @@\n+y\n" in diff and "+++ b/.gitattributes\n" in diff
