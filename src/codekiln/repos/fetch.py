"""Fetch a repository's files into a scratch directory: a PyPI sdist, a shallow git clone, a local tree.

    with fetch(parse_spec("pypi:toolz==1.2.0")) as src:
        src.root, src.files, src.name, src.version       # files: relative paths worth snapshotting

PyPI sdists are downloaded with `pip download --no-deps --no-binary :all:` (kept under
`$CODEKILN_HOME/sdists` so a second fetch needs no network) and unpacked with path-traversal checks.
Git URLs are cloned with `--depth 1`. Local git working trees contribute the files git shows (tracked
plus untracked-but-not-ignored); plain directories everything. Build junk is never included.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

from codekiln.core.config import state_dir
from codekiln.core.errors import RepoError
from codekiln.core.proc import run, tail
from codekiln.repos.spec import RepoSpec, normalize_name

# Never snapshotted: VCS metadata, caches, virtualenvs and build output.
JUNK_DIRS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", ".tox", ".nox", ".eggs", ".pytest_cache", ".mypy_cache"}
    | {".ruff_cache", ".hypothesis", ".venv", "venv", ".idea", ".vscode", "htmlcov"}
)
JUNK_TOP_DIRS = frozenset({"build", "dist"})
JUNK_SUFFIXES = (".pyc", ".pyo", ".so", ".pyd", ".o")
JUNK_FILES = frozenset({".DS_Store", ".coverage"})
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


@dataclass
class Source:
    """Fetched files: `root` holds them, `files` lists the relative POSIX paths to snapshot."""

    root: Path
    files: list[str]
    name: str
    version: str | None = None
    origin: dict[str, str] = field(default_factory=dict)


def is_junk(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    if any(p in JUNK_DIRS for p in parts[:-1]):
        return True
    if len(parts) > 1 and parts[0] in JUNK_TOP_DIRS:
        return True
    return parts[-1] in JUNK_FILES or parts[-1].endswith(JUNK_SUFFIXES)


def walk_files(root: Path) -> list[str]:
    """Every non-junk file or symlink under root, as sorted relative POSIX paths."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        dirnames[:] = [d for d in dirnames if d not in JUNK_DIRS]
        if rel_dir == Path("."):
            dirnames[:] = [d for d in dirnames if d not in JUNK_TOP_DIRS]
        # Symlinked directories are listed by os.walk as directories: keep them as links.
        links = [d for d in dirnames if (Path(dirpath) / d).is_symlink()]
        dirnames[:] = [d for d in dirnames if d not in links]
        for name in [*filenames, *links]:
            rel = (rel_dir / name).as_posix()
            if not is_junk(rel):
                out.append(rel)
    return sorted(out)


def _git_files(root: Path) -> list[str]:
    res = run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        timeout=120,
        env={**os.environ, **GIT_ENV},
    )
    if res.exit_code != 0:
        raise RepoError(
            f"cannot list the files of git repository {root}: {tail(res.stderr, 5)}",
            hint="run `git status` there to see what is wrong",
        )
    files = sorted({f for f in res.stdout.split("\0") if f})
    return [f for f in files if not is_junk(f) and (os.path.islink(root / f) or (root / f).is_file())]


def project_metadata(root: Path) -> tuple[str | None, str | None]:
    """(name, version) from PKG-INFO, pyproject.toml [project] or setup.cfg [metadata], where present."""
    pkg_info = root / "PKG-INFO"
    if pkg_info.is_file():
        headers = HeaderParser().parsestr(pkg_info.read_text(errors="replace"))
        if headers.get("Name"):
            return headers["Name"], headers.get("Version")
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            project = tomllib.loads(pyproject.read_text()).get("project", {})
        except tomllib.TOMLDecodeError:
            project = {}
        if project.get("name"):
            return project["name"], project.get("version")
    setup_cfg = root / "setup.cfg"
    if setup_cfg.is_file():
        cfg = configparser.ConfigParser(interpolation=None)
        try:
            cfg.read(setup_cfg)
        except configparser.Error:
            return None, None
        if cfg.has_option("metadata", "name"):
            version = cfg.get("metadata", "version", fallback=None)
            return cfg.get("metadata", "name"), version if version and not version.startswith(
                "attr:"
            ) else None
    return None, None


def _check_member(name: str) -> None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise RepoError(
            f"the archive holds an unsafe path {name!r}", hint="this archive cannot be snapshotted safely"
        )


def _extract_tar(tf: tarfile.TarFile, dest: Path) -> None:
    """Extract with the "data" filter: absolute paths, `..`, links out of the tree and devices are
    refused, modes lose setuid bits and group/other write. Pythons before 3.11.4 (Debian 12 ships
    3.11.2) have no extraction filters: the same rules are applied here to each member first."""
    if hasattr(tarfile, "data_filter"):
        tf.extractall(dest, filter="data")
        return
    root = os.path.realpath(dest)
    members = tf.getmembers()
    for m in members:
        if not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
            raise tarfile.TarError(f"{m.name!r} is a device or other special file")
        if m.issym() or m.islnk():
            base = os.path.dirname(os.path.join(root, m.name)) if m.issym() else root
            target = os.path.realpath(os.path.join(base, m.linkname))
            if os.path.isabs(m.linkname) or os.path.commonpath([root, target]) != root:
                raise tarfile.TarError(f"{m.name!r} links outside the destination ({m.linkname!r})")
        m.mode &= 0o755
        m.uid, m.gid, m.uname, m.gname = os.getuid(), os.getgid(), "", ""
    tf.extractall(dest, members=members)


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack a .tar.gz/.tar.bz2/.tgz/.zip sdist safely into dest; return the project's top directory."""
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _check_member(info.filename)
            zf.extractall(dest)
    else:
        try:
            with tarfile.open(archive) as tf:
                for member in tf.getmembers():
                    _check_member(member.name)
                _extract_tar(tf, dest)
        except (tarfile.TarError, OSError) as err:
            raise RepoError(
                f"cannot unpack {archive.name}: {err}",
                hint="the sdist is damaged or unsafe; try another version",
            ) from err
    entries = [p for p in dest.iterdir() if p.name != "pax_global_header"]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest


def download_sdist(name: str, version: str | None) -> Path:
    """The sdist of name==version (latest if None), downloaded once into $CODEKILN_HOME/sdists."""
    cache = state_dir("sdists")
    if version:
        wanted = normalize_name(f"{name}-{version}")
        for found in sorted(cache.iterdir()):
            if normalize_name(re.sub(r"\.(tar\.gz|tar\.bz2|tgz|zip)$", "", found.name)) == wanted:
                return found
    req = f"{name}=={version}" if version else name
    with tempfile.TemporaryDirectory(prefix="codekiln-dl-") as tmp:
        argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        res = run([*argv, "-q", "--disable-pip-version-check", "-d", tmp, req], timeout=600)
        # pip builds the sdist's metadata after downloading it; an archive that arrived is enough.
        files = [p for p in Path(tmp).iterdir() if p.is_file()]
        if not files:
            log = tail(res.stdout + res.stderr, 8)
            if "No matching distribution" in log or "Could not find a version" in log:
                raise RepoError(
                    f"PyPI has no source distribution for {req}",
                    hint=f"check the name and version at https://pypi.org/project/{name}/#history "
                    "(only releases with an sdist work; or give the project's git URL)",
                )
            raise RepoError(
                f"pip could not download {req}:\n{log}",
                hint="check your network or PyPI index settings (pip config list)",
            )
        target = cache / files[0].name
        shutil.move(str(files[0]), target)
        return target


@contextmanager
def fetch(spec: RepoSpec) -> Iterator[Source]:
    """Fetch `spec` into a scratch directory that is deleted when the block ends."""
    with tempfile.TemporaryDirectory(prefix="codekiln-fetch-") as tmp:
        scratch = Path(tmp)
        if spec.kind == "pypi":
            archive = download_sdist(spec.target, spec.version)
            root = unpack(archive, scratch / "src")
            name, version = project_metadata(root)
            yield Source(
                root, walk_files(root), name or spec.target, version or spec.version, {"sdist": archive.name}
            )
        elif spec.kind == "git":
            root = scratch / "clone"
            commit = _clone(spec.target, spec.ref, root)
            name, version = project_metadata(root)
            fallback = re.sub(r"\.git$", "", spec.target.rstrip("/").rpartition("/")[2].rpartition(":")[2])
            yield Source(root, _git_files(root), name or fallback, version or commit[:12], {"commit": commit})
        else:
            root = Path(spec.target)
            is_git = (root / ".git").exists()
            files = _git_files(root) if is_git else walk_files(root)
            if not files:
                raise RepoError(
                    f"{root} holds no files to snapshot",
                    hint="give the directory that holds the project's code",
                )
            name, version = project_metadata(root)
            yield Source(root, files, name or root.name, version)


def _clone(url: str, ref: str | None, dest: Path) -> str:
    """Shallow-clone url at ref (branch, tag or full commit) into dest; return the commit checked out."""
    env = {**os.environ, **GIT_ENV}
    if ref and re.fullmatch(r"[0-9a-f]{7,40}", ref):
        steps = [
            ["git", "init", "-q", str(dest)],
            ["git", "-C", str(dest), "fetch", "-q", "--depth", "1", url, ref],
        ]
        steps.append(["git", "-C", str(dest), "checkout", "-q", "FETCH_HEAD"])
    else:
        steps = [["git", "clone", "-q", "--depth", "1", *(["--branch", ref] if ref else []), url, str(dest)]]
    for argv in steps:
        res = run(argv, timeout=600, env=env)
        if res.exit_code != 0:
            raise RepoError(
                f"cannot clone {url}{'@' + ref if ref else ''}:\n{tail(res.stderr, 8)}",
                hint="check the URL and ref (a branch, tag or full commit) and that the host is reachable",
            )
    head = run(["git", "-C", str(dest), "rev-parse", "HEAD"], timeout=60, env=env)
    return head.stdout.strip()
