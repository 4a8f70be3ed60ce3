"""What a bwrap sandbox shows its programs of who and where they are, so that they find what any host
answers: the sandbox user in /etc/passwd and /etc/group, its hostname in /etc/hosts, and an address
besides loopback on its private network.

    args += identity_binds(stage_dir, SANDBOX_UID, "sandbox")   # after --ro-bind /etc /etc
    prefix = private_network()   # argv to put before setpriv/bwrap, or None: use --unshare-net

Test suites ask all three, and each fails in a sandbox made of the host's /etc, a uid the host does not
know and a network namespace that holds only `lo`: `pwd.getpwuid(os.getuid())` (`getpass.getuser`,
`Path.owner()`, the `pytest-of-USER` directory of `tmp_path`) raises KeyError;
`socket.gethostbyname(socket.gethostname())` finds no "sandbox"; and getaddrinfo with AI_ADDRCONFIG,
which asyncio's and anyio's UDP endpoints and listeners pass, resolves "localhost" to nothing, since
glibc counts an address family as configured only when some address of it is not loopback's. anyio
4.16.0's baseline failed 6 owner/group tests and about 80 socket tests for these reasons that its plain
run on the host passed.

The network stays private: the extra addresses (10.254.254.254, fd00:6b6c::1) sit on `lo` of the
command's own namespace, with no route out. `private_network` needs root (to make the namespace before
bwrap drops to the sandbox uid) and `ip` (iproute2); without them the sandbox keeps bwrap's own
`--unshare-net` (loopback only).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

ADDRESSES = ("10.254.254.254/32", "fd00:6b6c::1/128")
_SETUP = (
    "ip -force -batch - >/dev/null 2>&1 <<'EOF'\nlink set lo up\n"
    + "".join(f"addr add {a} dev lo\n" for a in ADDRESSES)
    + 'EOF\nexec "$@"'
)


@functools.cache
def private_network() -> list[str] | None:
    """argv prefix running a command in a new network namespace with loopback up and `ADDRESSES` on it;
    None where such a namespace cannot be made here (checked once: the probe must see both)."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if unshare is None or ip is None:
        return None
    prefix = [unshare, "--net", "--", "/bin/sh", "-c", _SETUP, "sh"]
    try:
        probe = subprocess.run(
            [*prefix, ip, "-o", "-4", "addr", "show", "dev", "lo"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    seen = probe.stdout
    if probe.returncode != 0 or "127.0.0.1" not in seen or ADDRESSES[0].split("/")[0] not in seen:
        return None
    return prefix


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
