"""The file editor tool (`str_replace_editor`): view, create, str_replace, insert and undo_edit.

    editor = EditorTool()
    editor.run(sandbox, {"command": "str_replace", "path": "pkg/mod.py", "old_str": "a - b", "new_str": "a + b"})

Paths are relative to the workspace (/testbed) or absolute inside the sandbox. Files are read and written
through `Sandbox.read_file`/`write_file`, so edits show up in `sandbox.diff()`. Every mistake comes back as
an Observation with ok=False and an exact message: old_str not found, old_str appearing N times (with the
lines), a line number out of range, a file that already exists, a file over `max_file_bytes`. Each successful create/str_replace/insert
pushes the file's previous content on a per-file history that `undo_edit` pops; one EditorTool instance is
one episode's history.
"""

from __future__ import annotations

import errno
import posixpath
import re
from typing import Any

from codekiln.agents.records import Observation
from codekiln.agents.tools import DEFAULT_MAX_CHARS, Tool, truncate
from codekiln.core.protocols import Sandbox
from codekiln.core.sources import SourceEncodingError, decode_python, encode_python
from codekiln.sandbox import MAX_CHANGE_BYTES

SNIPPET_LINES = 4
COMMANDS = ["view", "create", "str_replace", "insert", "undo_edit"]


class EditError(Exception):
    """A mistake in an editor call; the message goes to the model as is."""


def numbered(lines: list[str], first: int = 1) -> str:
    """Lines prefixed with their 1-based numbers, like `cat -n`."""
    return "\n".join(f"{i:6d}\t{line}" for i, line in enumerate(lines, first))


class EditorTool(Tool):
    """View and edit files with exact-match replacement and undo."""

    name = "str_replace_editor"
    description = (
        "View, create and edit files.\n"
        "* view: show a file with line numbers (optionally only `view_range` [start, end], end -1 = to the "
        "end), or list a directory two levels deep.\n"
        "* create: write `file_text` to a new file `path` (fails if it exists).\n"
        "* str_replace: replace `old_str` with `new_str` in `path`. `old_str` must match exactly one "
        "place in the file, whitespace included; add surrounding lines to make it unique.\n"
        "* insert: insert `new_str` after line `insert_line` (0 = at the top).\n"
        "* undo_edit: revert the last edit made to `path`."
    )
    parameters = {
        "type": "object",
        "properties": {
            "command": {"type": "string", "enum": COMMANDS, "description": "The operation to perform."},
            "path": {"type": "string", "description": "File or directory, relative to /testbed or absolute."},
            "file_text": {"type": "string", "description": "Content of the new file (create)."},
            "old_str": {"type": "string", "description": "Exact text to replace (str_replace)."},
            "new_str": {
                "type": "string",
                "description": "Replacement (str_replace) or text to insert (insert).",
            },
            "insert_line": {
                "type": "integer",
                "description": "Insert after this line; 0 inserts at the top.",
            },
            "view_range": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "[start, end] lines to view, 1-based; end -1 means the last line.",
            },
        },
        "required": ["command", "path"],
    }

    def __init__(self, max_chars: int = DEFAULT_MAX_CHARS, max_file_bytes: int = MAX_CHANGE_BYTES) -> None:
        self.max_chars = max_chars
        # Bigger files are not opened: the host reads a file whole (a sparse gigabyte cost the sandbox
        # nothing and the driver 3 GB), and no change that big is graded anyway.
        self.max_file_bytes = max_file_bytes
        self.history: dict[str, list[str | None]] = {}
        # Python files in another encoding (a PEP 263 declaration), by path: their bytes as first read,
        # so an edit is written back in that encoding, as an editor that reads Python would.
        self.declared: dict[str, bytes] = {}

    def call(self, sandbox: Sandbox, args: dict[str, Any], *, timeout: float | None) -> Observation:
        path = posixpath.normpath(posixpath.join(sandbox.workdir, args["path"]))
        try:
            text = getattr(self, "_" + args["command"])(sandbox, path, args)
        except EditError as err:
            return Observation(text=str(err), ok=False)
        shown, cut = truncate(text, self.max_chars)
        return Observation(text=shown, truncated=cut)

    # -- helpers -----------------------------------------------------------------------------------
    def _read(self, sandbox: Sandbox, path: str) -> str | None:
        """The file's text, None if it does not exist; EditError for directories and binary files."""
        try:
            data = sandbox.read_file(path, max_bytes=self.max_file_bytes)
        except FileNotFoundError:
            return None
        except IsADirectoryError as err:
            raise EditError(f"{path} is a directory; give the path of a file") from err
        except PermissionError as err:
            if "directory" in str(err).lower():
                raise EditError(f"{path} is a directory; give the path of a file") from err
            raise EditError(f"cannot read {path}: permission denied") from err
        except OSError as err:  # a path through a file, a name too long, a loop of links: the path's fault
            if err.errno == errno.EFBIG:
                raise EditError(
                    f"{path} is over {self.max_file_bytes:,} bytes, more than the editor opens; "
                    f"look at parts of it with bash (`sed -n '1,100p' {path}`)"
                ) from err
            raise EditError(f"cannot read {path}: {err.strerror or err}") from err
        try:
            return data.decode()
        except UnicodeDecodeError as err:
            if path.endswith(".py"):
                try:
                    text = decode_python(data, path, universal=False)
                except SourceEncodingError:
                    pass
                else:
                    self.declared.setdefault(path, data)
                    return text
            raise EditError(f"{path} is not a UTF-8 text file; the editor only edits text") from err

    def _existing(self, sandbox: Sandbox, path: str) -> str:
        text = self._read(sandbox, path)
        if text is None:
            raise EditError(f"{path} does not exist; use `create` to make a new file")
        return text

    def _write(self, sandbox: Sandbox, path: str, old: str | None, new: str) -> None:
        try:
            sandbox.write_file(path, self._encoded(path, new))
        except PermissionError as err:
            raise EditError(f"cannot write {path}: permission denied") from err
        except OSError as err:
            raise EditError(f"cannot write {path}: {err.strerror or err}") from err
        self.history.setdefault(path, []).append(old)

    def _encoded(self, path: str, text: str) -> str | bytes:
        """What to write: the text, or its bytes in the encoding the Python file declares."""
        if path not in self.declared:
            return text
        try:
            return encode_python(text, like=self.declared[path], rel=path)
        except SourceEncodingError as err:
            raise EditError(f"{err.message}; write that character as an escape (\\u....) instead") from err

    def _snippet(self, path: str, text: str, first_line: int, n_lines: int) -> str:
        lines = text.split("\n")
        if text.endswith("\n"):
            lines.pop()
        start = max(0, first_line - 1 - SNIPPET_LINES)
        end = min(len(lines), first_line - 1 + n_lines + SNIPPET_LINES)
        body = numbered(lines[start:end], start + 1)
        return f"The file {path} has been edited. Here is a snippet of it:\n{body}\nReview the change; edit again if needed."

    # -- commands ----------------------------------------------------------------------------------
    def _view(self, sandbox: Sandbox, path: str, args: dict[str, Any]) -> str:
        try:
            text = self._existing(sandbox, path)
        except EditError as err:
            if "is a directory" not in str(err):
                raise
            if args.get("view_range") is not None:
                raise EditError("view_range only applies to files, and the path is a directory") from err
            # Hidden means a name below `path` that starts with a dot, not a dot anywhere in `path`
            # itself (the local backend's workspace lives under ~/.codekiln).
            below = re.sub(r"([*?\[\\])", r"\\\1", path.rstrip("/"))
            hidden = ["-not", "-path", f"{below}/.*", "-not", "-path", f"{below}/*/.*"]
            res = sandbox.exec(["find", path, "-maxdepth", "2", *hidden], timeout=60)
            listing = "\n".join(sorted(res.stdout.splitlines()))
            return f"Files and directories in {path}, two levels deep (hidden ones left out):\n{listing}"
        lines = text.split("\n")
        if text.endswith("\n"):
            lines.pop()
        first, last = 1, len(lines)
        view_range = args.get("view_range")
        if view_range is not None:
            if len(view_range) != 2 or not all(isinstance(v, int) for v in view_range):
                raise EditError("view_range must be two integers [start, end]")
            first, last = view_range
            if not 1 <= first <= max(1, len(lines)):
                raise EditError(f"view_range start {first} is out of range: {path} has {len(lines)} lines")
            if last == -1:
                last = len(lines)
            elif last < first or last > len(lines):
                raise EditError(
                    f"view_range end {last} is out of range: it must be between {first} and {len(lines)}, or -1"
                )
        return f"Here is {path} (lines {first}-{last} of {len(lines)}):\n{numbered(lines[first - 1 : last], first)}"

    def _create(self, sandbox: Sandbox, path: str, args: dict[str, Any]) -> str:
        if "file_text" not in args:
            raise EditError("create needs `file_text`, the content of the new file")
        if self._read(sandbox, path) is not None:
            raise EditError(f"{path} already exists; `create` cannot overwrite files, use `str_replace`")
        self._write(sandbox, path, None, args["file_text"])
        return f"Created {path}."

    def _str_replace(self, sandbox: Sandbox, path: str, args: dict[str, Any]) -> str:
        old, new = args.get("old_str"), args.get("new_str") or ""
        if not old:
            raise EditError("str_replace needs a non-empty `old_str` (the exact text to replace)")
        text = self._existing(sandbox, path)
        count = text.count(old)
        if count == 0:
            raise EditError(
                f"old_str not found in {path}; it must match the file exactly, whitespace and indentation "
                "included (view the file to copy the text)"
            )
        if count > 1:
            lines, at = [], 0
            for _ in range(count):
                at = text.index(old, at)
                lines.append(str(text.count("\n", 0, at) + 1))
                at += 1
            raise EditError(
                f"old_str appears {count} times in {path} (lines {', '.join(lines)}); "
                "add context to make it unique"
            )
        at = text.index(old)
        updated = text.replace(old, new, 1)
        self._write(sandbox, path, text, updated)
        return self._snippet(path, updated, text.count("\n", 0, at) + 1, new.count("\n") + 1)

    def _insert(self, sandbox: Sandbox, path: str, args: dict[str, Any]) -> str:
        if "insert_line" not in args or "new_str" not in args:
            raise EditError("insert needs `insert_line` (insert after it; 0 = top) and `new_str`")
        line, new = args["insert_line"], args["new_str"]
        text = self._existing(sandbox, path)
        lines = text.split("\n")
        n_lines = len(lines) - 1 if text.endswith("\n") else len(lines)
        if not 0 <= line <= n_lines:
            raise EditError(f"insert_line {line} is out of range: it must be between 0 and {n_lines}")
        piece = new if new.endswith("\n") else new + "\n"
        offset = sum(len(x) + 1 for x in lines[:line])
        if offset > len(text):  # inserting after a last line that has no newline
            updated = text + "\n" + piece
        else:
            updated = text[:offset] + piece + text[offset:]
        self._write(sandbox, path, text, updated)
        return self._snippet(path, updated, line + 1, piece.count("\n"))

    def _undo_edit(self, sandbox: Sandbox, path: str, args: dict[str, Any]) -> str:
        stack = self.history.get(path)
        if not stack:
            raise EditError(f"no edit to undo for {path}")
        previous = stack.pop()
        if previous is None:
            sandbox.exec(["rm", "-f", "--", path], timeout=60)
            return f"Undid the creation of {path}; it no longer exists."
        sandbox.write_file(path, self._encoded(path, previous))
        return f"Undid the last edit to {path}. It now reads:\n{numbered(previous.split(chr(10)))}"
