"""Sandboxes: isolated, resettable workspaces on repository snapshots. See `base` for the contract."""

from codekiln.sandbox.base import (
    DEFAULT_BACKEND,
    MAX_CHANGE_BYTES,
    SANDBOX_UID,
    SANDBOXES,
    Bind,
    SandboxSpec,
    change_bytes,
    open_sandbox,
    settle,
)
from codekiln.sandbox.tasktree import StartTree

__all__ = [
    "DEFAULT_BACKEND",
    "MAX_CHANGE_BYTES",
    "SANDBOXES",
    "SANDBOX_UID",
    "Bind",
    "SandboxSpec",
    "StartTree",
    "change_bytes",
    "open_sandbox",
    "settle",
]
