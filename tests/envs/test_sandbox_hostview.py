"""A suite that asks who and where it runs passes in a bwrap sandbox as it does plainly on the host.

anyio 4.16.0's baseline failed tests its plain run passed: `Path.owner()`/`group()` (the sandbox uid was
in no /etc/passwd or /etc/group: KeyError) and about 80 socket tests whose getaddrinfo("localhost", ...,
AI_ADDRCONFIG) resolved nothing (a network namespace with only loopback addresses has, for glibc, no
address family configured), and 3 `test_bind_link_local` (no IPv6 link-local address, which any host
with a network card has) and skipped 3 `test_is_block_device` (no block device in /dev). The fixture
project below asks the same things, and its own hostname, with
real pytest, guarded through `run_tests` in a real bwrap sandbox and plainly as bench/envbuild.py runs it.
"""

from __future__ import annotations

import errno
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codekiln.grading import TestCommand, run_tests
from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.testing import make_repo

ASKS = """\
import getpass
import socket


def test_the_user_has_a_name(tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    assert path.owner() == getpass.getuser()
    assert path.group()


def test_localhost_resolves_for_a_listener():
    flags = socket.AI_PASSIVE | socket.AI_ADDRCONFIG
    found = socket.getaddrinfo("localhost", 0, socket.AF_INET, socket.SOCK_DGRAM, 0, flags)
    assert found[0][4][0] == "127.0.0.1"


def test_the_hostname_resolves():
    assert socket.gethostbyname(socket.gethostname())


def test_dev_has_a_block_device():
    import os, stat
    with os.scandir("/dev") as entries:
        assert any(stat.S_ISBLK(e.stat(follow_symlinks=False).st_mode) for e in entries)


def test_a_link_local_address_takes_a_listener():
    with open("/proc/net/if_inet6") as table:
        rows = [line.split() for line in table]
    hexed, _, _, _, _, name = next(row for row in rows if row[3] == "20")  # scope 0x20: link
    address = ":".join(hexed[i : i + 4] for i in range(0, 32, 4)) + "%" + name
    found = socket.getaddrinfo(address, 0, socket.AF_INET6, socket.SOCK_STREAM)
    with socket.socket(socket.AF_INET6) as sock:
        sock.bind(found[0][4])
        sock.listen()

"""
PROJECT = {"pyproject.toml": b"[project]\nname='asks'\nversion='0'\n", "tests/test_asks.py": ASKS.encode()}
IDS = [
    "test_the_user_has_a_name",
    "test_localhost_resolves_for_a_listener",
    "test_the_hostname_resolves",
    "test_a_link_local_address_takes_a_listener",
    "test_dev_has_a_block_device",
]
OUT = "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 80), timeout=5)\nexcept OSError as e:\n    print(e.errno)"

DISK = """import os, stat
name = next(e.path for e in os.scandir("/dev") if stat.S_ISBLK(e.stat(follow_symlinks=False).st_mode))
try:
    open(name, "rb")
except OSError as e:
    print(e.errno)"""


@pytest.mark.root  # a bwrap sandbox
def test_a_suite_asking_its_user_hostname_and_addresses_passes_in_the_sandbox_as_on_the_host(
    tmp_path: Path,
) -> None:
    snapshot = make_repo(tmp_path / "asks", PROJECT)
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=Path(sys.prefix))) as sb:
        run = run_tests(sb, TestCommand(args=["tests"]))
        user = sb.exec(["python", "-c", "import getpass; print(getpass.getuser())"], cwd=sb.workdir)
        out = sb.exec(["python", "-c", OUT], cwd=sb.workdir)
        disk = sb.exec(["python", "-c", DISK], cwd=sb.workdir)
    assert run.error is None, run.log_tail
    assert run.statuses == {f"tests/test_asks.py::{name}": "passed" for name in IDS}, run.messages
    assert user.stdout.strip() == "sandbox"
    assert out.stdout.strip() == str(errno.ENETUNREACH)  # still no way out
    assert disk.stdout.strip() == str(errno.EACCES)  # the disk is seen, never opened

    tree = shutil.copytree(snapshot, tmp_path / "plain", ignore=shutil.ignore_patterns(".git"))
    plain = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "tests"],
        cwd=tree, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert f"{len(IDS)} passed" in plain.stdout, plain.stdout[-2000:]
