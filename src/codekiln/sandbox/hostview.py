"""What a bwrap sandbox shows its programs of who and where they are, so that they find what any host
answers: the sandbox user in /etc/passwd and /etc/group, its hostname in /etc/hosts, an address
besides loopback on its private network, and a block device in /dev.

    args += identity_binds(stage_dir, SANDBOX_UID, "sandbox")   # after --ro-bind /etc /etc
    prefix = private_network(stage_dir)   # nsenter argv to put before setpriv, or None: --unshare-net

Test suites ask all three, and each fails in a sandbox made of the host's /etc, a uid the host does not
know and a network namespace that holds only `lo`: `pwd.getpwuid(os.getuid())` (`getpass.getuser`,
`Path.owner()`, the `pytest-of-USER` directory of `tmp_path`) raises KeyError;
`socket.gethostbyname(socket.gethostname())` finds no "sandbox"; and getaddrinfo with AI_ADDRCONFIG,
which asyncio's and anyio's UDP endpoints and listeners pass, resolves "localhost" to nothing, since
glibc counts an address family as configured only when some address of it is not loopback's. anyio
4.16.0's baseline failed 6 owner/group tests and about 80 socket tests for these reasons that its plain
run on the host passed. A host with a network card also has an IPv6 link-local address (fe80::/64, with a
scope: `fe80::...%eth0`), which `lo` never gets by itself; anyio's `test_bind_link_local` looks one up
(psutil's `net_if_addrs`) and binds a listener to it, and failed in the sandbox only.

bwrap's /dev holds only character devices (null, zero, random, tty, ...), while every host has a disk:
anyio's `test_is_block_device` walks /dev for a block device and skipped in the sandbox only.
`block_device_binds` shows the host's first one there; bwrap mounts it `nodev` and the sandbox uid
has no rights on it, so it can be stat'ed and never opened.

The network stays private: the extra addresses (10.254.254.254, fd00:6b6c::1, fe80::6b6c:1) sit on `lo` of the
sandbox's own namespace, with no route out; its commands share it (made once per sandbox and entered
with nsenter, which costs no more per command than bwrap's own `--unshare-net`). `private_network`
needs root (to make the namespace before bwrap drops to the sandbox uid) and `ip` (iproute2); without
them the sandbox keeps bwrap's `--unshare-net` (loopback only).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

from codekiln.sandbox.mounts import unmount

ADDRESSES = ("10.254.254.254/32", "fd00:6b6c::1/128", "fe80::6b6c:1/64")
_SETUP = (
    "ip -force -batch - >/dev/null 2>&1 <<'EOF'\nlink set lo up\n"
    + "".join(f"addr add {a} dev lo\n" for a in ADDRESSES)
    + "EOF\n"
)
_broken: list[str] = []  # why a namespace could not be made: after one failure, later sandboxes do not try


def private_network(stage: Path) -> list[str] | None:
    """argv prefix entering the sandbox's own network namespace, made once and kept as `stage`/netns
    (a bind mount, gone when the stage's tmpfs is unmounted) with loopback up and `ADDRESSES` on it;
    None where none can be made here (no `unshare`/`nsenter`/`ip`, or the addresses did not show)."""
    unshare, nsenter, ip = shutil.which("unshare"), shutil.which("nsenter"), shutil.which("ip")
    if unshare is None or nsenter is None or ip is None or _broken:
        return None
    path = stage / "netns"
    enter = [nsenter, f"--net={path}", "--"]
    if path.exists():
        return enter
    path.touch()
    try:
        subprocess.run([unshare, f"--net={path}", "--", "/bin/sh", "-c", _SETUP], timeout=30, check=True)
        seen = subprocess.run(
            [*enter, ip, "-o", "-4", "addr", "show", "dev", "lo"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError) as err:
        seen = str(err)
    if "127.0.0.1" in seen and ADDRESSES[0].split("/")[0] in seen:
        return enter
    _broken.append(seen)
    unmount(path)
    path.unlink(missing_ok=True)
    return None


def block_device_binds() -> list[str]:
    """bwrap arguments that show the host's first block device (by name) in the sandbox's /dev, before
    /dev is remounted read-only; none where the host's /dev has none."""
    try:
        names = sorted(entry.name for entry in os.scandir("/dev") if _is_block(entry))
    except OSError:
        return []
    return ["--ro-bind", f"/dev/{names[0]}", f"/dev/{names[0]}"] if names else []


def _is_block(entry: os.DirEntry[str]) -> bool:
    try:
        return stat.S_ISBLK(entry.stat(follow_symlinks=False).st_mode)
    except OSError:
        return False


def identity_binds(stage: Path, uid: int, hostname: str) -> list[str]:
    """bwrap arguments that show passwd, group and hosts files over the host's /etc ones: the host's
    lines plus the sandbox user (home /tmp) and its group, unless the host has that id already, and
    its hostname at 127.0.1.1; each written once into `stage` (a directory the sandbox uid can traverse)."""
    added = {
        "passwd": f"sandbox:x:{uid}:{uid}:codekiln sandbox:/tmp:/bin/bash",
        "group": f"sandbox:x:{uid}:",
        "hosts": f"127.0.1.1\t{hostname}",
    }
    stage.mkdir(parents=True, exist_ok=True)
    args: list[str] = []
    for file, line in added.items():
        target = stage / f"etc-{file}"
        if not target.exists():
            try:
                lines = Path("/etc", file).read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                lines = []
            ids = {row.split(":")[2] for row in lines if row.count(":") >= 3}
            if file == "hosts" or str(uid) not in ids:
                lines.append(line)
            target.write_text("\n".join(lines) + "\n", encoding="utf-8")
            target.chmod(0o644)
        args += ["--ro-bind", str(target), f"/etc/{file}"]
    return args
