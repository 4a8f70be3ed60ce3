"""Which test tiers can run on this machine, and why not: the facts behind the pytest markers.

    root_problem()       # None as root, else why tests marked `root` cannot run
    network_problem()    # None, or why tests marked `network` cannot reach the package index

Markers (registered in pyproject.toml; tests/conftest.py skips by them with these reasons):
- `root`: needs root on the host: bwrap sandboxes (they mount workspaces and switch to the sandbox
  uid), podman, or what `scripts/setup.sh` installs with apt. Every test that builds an environment,
  grades a task or synthesizes tasks is one. As root they always run (CI: `make test`), so a broken
  bwrap fails loudly there instead of being skipped; without root they are skipped with the reason.
- `network`: needs the package index (pip to PyPI, or the one `PIP_INDEX_URL` names).
- `slow`: opt-in with `--run-slow`.

A contributor without root still runs everything else: the agent loop, the formats, rewards and
exports on recorded tasks, all on the `local` sandbox backend (real commands in a real copy of the
snapshot; see `codekiln.sandbox.local` for what it does not isolate).
"""

from __future__ import annotations

import functools
import os
import socket
from urllib.parse import urlsplit
from urllib.request import getproxies

ROOT_MARKERS = ("root", "podman")
DEFAULT_INDEX = "https://pypi.org/simple"


def root_problem() -> str | None:
    """None when tests marked `root` can run, i.e. as root; else why not. As root nothing is probed: a
    bwrap that does not work there must fail those tests, not skip them."""
    if os.geteuid() == 0:
        return None
    return (
        f"needs root (running as uid {os.geteuid()}): bwrap sandboxes mount workspaces and switch to "
        "the sandbox uid, podman runs rootful containers; run as root (`sudo make test`) to include these"
    )


def index_url() -> str:
    """The package index pip would use: `PIP_INDEX_URL`, else PyPI."""
    return os.environ.get("PIP_INDEX_URL") or DEFAULT_INDEX


def network_problem(timeout: float = 5.0) -> str | None:
    """None when a TCP connection to the package index's host (or to the proxy the environment names
    for it) opens within `timeout`, else why not. A `file://` index needs no network."""
    url = urlsplit(index_url())
    if url.scheme == "file":
        return None
    proxy = getproxies().get(url.scheme)
    target = urlsplit(proxy) if proxy else url
    port = target.port or (80 if target.scheme == "http" else 443)
    return _unreachable(target.hostname or "", port, timeout)


@functools.cache
def _unreachable(host: str, port: int, timeout: float) -> str | None:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as err:
        return f"needs the package index, and {host}:{port} is unreachable ({err}); set PIP_INDEX_URL to a mirror"
