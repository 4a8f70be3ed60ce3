"""A package index on loopback for tests that install packages without the network.

    folder = tmp / "files"
    write_wheel(folder, "demo", "1.0", {"demo.py": "VERSION = '1.0'\\n"})
    wheel_of_installed("pytest", links)           # an installed distribution, packed again as a wheel
    with LocalIndex(folder, {"demo-1.0-py3-none-any.whl": "2021-01-10T00:00:00Z"}) as index:
        index.url                                  # http://127.0.0.1:PORT/simple, for PIP_INDEX_URL

`LocalIndex` serves every wheel of `folder` from the JSON simple API (PEP 691, api-version 1.1), each
file with the `upload-time` (PEP 700) given for it, none when `upload_times` is None (an index that
does not say when files were uploaded). It answers JSON whatever the Accept header says, 404 for
projects it lacks, and runs in a thread of the test's process until the `with` block ends.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import importlib.metadata
import json
import re
import threading
import zipfile
from pathlib import Path
from types import TracebackType

JSON_SIMPLE = "application/vnd.pypi.simple.v1+json"


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pack(dest: Path, name: str, version: str, files: dict[str, bytes], dist_info: dict[str, bytes]) -> Path:
    """A pure-Python wheel of `files` plus `dist_info` (METADATA, WHEEL, ...), RECORD written here."""
    stem = f"{re.sub(r'[-.]+', '_', name)}-{version}"
    info = f"{stem}.dist-info"
    entries = {**files, **{f"{info}/{k}": v for k, v in dist_info.items() if k != "RECORD"}}
    record = [
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
        for path, data in entries.items()
    ]
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in entries.items():
            zf.writestr(path, data)
        zf.writestr(f"{info}/RECORD", "\n".join([*record, f"{info}/RECORD,,"]) + "\n")
    return wheel


def write_wheel(
    dest: Path, name: str, version: str, files: dict[str, str], requires: tuple[str, ...] = ()
) -> Path:
    """Build a pure-Python wheel of `name` `version` holding `files` (path -> text) into `dest`."""
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    wheel = "Wheel-Version: 1.0\nGenerator: codekiln.testing\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    return _pack(
        dest, name, version, {k: v.encode() for k, v in files.items()},
        {"METADATA": metadata.encode(), "WHEEL": wheel.encode()},
    )  # fmt: skip


def wheel_of_installed(
    name: str, dest: Path, version: str = "", edits: dict[str, list[tuple[str, str]]] | None = None
) -> Path:
    """The installed pure-Python distribution `name` packed again as a wheel in `dest` (its files and
    metadata; scripts, bytecode and install records left out: pip writes its own); with a `version`,
    as that release, its files changed by `edits` (path -> (old, new) replacements of every occurrence):
    an older release that differs from the installed one in those lines."""
    dist = importlib.metadata.distribution(name)
    files: dict[str, bytes] = {}
    info: dict[str, bytes] = {}
    for rel in dist.files or []:
        path = str(rel)
        if path.startswith("..") or "__pycache__" in path or path.endswith(".pyc"):
            continue
        data = Path(str(dist.locate_file(rel))).read_bytes()
        top = path.split("/")[0]
        if top.endswith(".dist-info"):
            if path.count("/") == 1 and rel.name not in (
                "RECORD",
                "INSTALLER",
                "REQUESTED",
                "direct_url.json",
            ):
                info[rel.name] = data
            elif path.count("/") > 1:  # licenses/...
                info[path.split("/", 1)[1]] = data
        else:
            files[path] = data
    for path, changes in (edits or {}).items():
        text = files[path].decode()
        for before, after in changes:
            assert before in text, f"{before!r} is not in {path}"
            text = text.replace(before, after)
        files[path] = text.encode()
    if version:
        info["METADATA"] = re.sub(
            rb"^Version: .*$", f"Version: {version}".encode(), info["METADATA"], count=1, flags=re.M
        )
    return _pack(dest, dist.metadata["Name"], version or dist.version, files, info)


class LocalIndex:
    """The wheels of a folder served as a PEP 691/700 index on 127.0.0.1 (see the module docstring)."""

    def __init__(self, folder: Path, upload_times: dict[str, str] | None) -> None:
        self.folder = Path(folder)
        self.upload_times = upload_times
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the index is not running: use it in a `with` block"
        return f"http://127.0.0.1:{self._server.server_address[1]}/simple"

    def page(self, project: str) -> dict[str, object] | None:
        """The JSON simple API page of a project, or None when the folder has no wheel of it."""
        files = []
        for wheel in sorted(self.folder.glob("*.whl")):
            if _normalize(wheel.name.split("-")[0]) != project:
                continue
            entry: dict[str, object] = {
                "filename": wheel.name,
                "url": f"../../files/{wheel.name}",
                "hashes": {"sha256": hashlib.sha256(wheel.read_bytes()).hexdigest()},
            }
            if self.upload_times is not None:
                entry["upload-time"] = self.upload_times[wheel.name]
            files.append(entry)
        if not files:
            return None
        return {"meta": {"api-version": "1.1"}, "name": project, "files": files}

    def __enter__(self) -> LocalIndex:
        index = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = [p for p in self.path.split("?")[0].split("/") if p]
                body, kind = b"", JSON_SIMPLE
                if len(parts) == 2 and parts[0] == "simple":
                    page = index.page(_normalize(parts[1]))
                    body = json.dumps(page).encode() if page else b""
                elif len(parts) == 2 and parts[0] == "files" and (index.folder / parts[1]).is_file():
                    body, kind = (index.folder / parts[1]).read_bytes(), "application/octet-stream"
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
