"""Snapshots: content-addressed, one commit of history, world-readable, junk-free, idempotent."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from codekiln.core.errors import RepoError
from codekiln.repos import SnapshotRecord, add_repo, ensure_snapshot, get_snapshot, list_snapshots
from codekiln.repos.fetch import download_sdist, unpack


def snapshot_files(rec: SnapshotRecord) -> set[str]:
    root = Path(rec.path)
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and ".git" not in p.parts}


def test_local_dir_snapshot_is_one_commit_without_junk(project: Path, git: Callable[..., str]) -> None:
    rec = add_repo(str(project))
    assert (rec.kind, rec.name, rec.version, rec.has_tests) == ("local", "demo-pkg", "0.1.0", True)
    assert snapshot_files(rec) == {"pkg/__init__.py", "tests/test_pkg.py", "pyproject.toml", "run.sh"}
    assert rec.files == 4
    snap = Path(rec.path)
    assert git(snap, "rev-list", "--all", "--count") == "1"
    assert git(snap, "status", "--porcelain") == ""
    assert git(snap, "log", "-1", "--format=%an %ad", "--date=iso") == "codekiln 2000-01-01 00:00:00 +0000"
    assert stat.S_IMODE((snap / "run.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((snap / "pkg" / "__init__.py").stat().st_mode) == 0o644
    for path in snap.rglob("*"):
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode & 0o444 == 0o444, path  # readable by the sandbox's unprivileged uid
        if path.is_dir():
            assert mode == 0o755, path


def test_same_content_same_id_and_commit(
    project: Path, tmp_path: Path, make_project: Callable[..., Path]
) -> None:
    first = add_repo(str(project))
    twin = make_project(tmp_path / "elsewhere")
    second = add_repo(str(twin))
    assert (second.id, second.commit, second.path) == (first.id, first.commit, first.path)
    (twin / "pkg" / "__init__.py").write_text("def add(a, b):\n    return a - b\n")
    changed = add_repo(str(twin))
    assert changed.id != first.id and changed.commit != first.commit
    (twin / "run.sh").chmod(0o644)  # the executable bit is content too
    assert add_repo(str(twin)).id != changed.id


def test_git_working_tree_loses_its_history(git_project: Path, git: Callable[..., str]) -> None:
    rec = add_repo(str(git_project))
    snap = Path(rec.path)
    assert "pkg/future.py" in snapshot_files(rec)  # the working tree's current state
    assert "secret.txt" not in snapshot_files(rec)  # ignored files stay out
    assert ".gitignore" in snapshot_files(rec)
    assert git(snap, "rev-list", "--all", "--count") == "1"
    assert git(snap, "log", "--all", "--format=%s") == f"snapshot {rec.id}"
    assert git(snap, "tag") == ""
    assert git(snap, "remote") == ""
    assert git(snap, "branch", "--format=%(refname)") == "refs/heads/main"
    assert not (snap / ".git" / "logs").exists()
    assert not (snap / ".git" / "hooks").exists()
    assert "the fix" not in git(snap, "log", "--all", "--format=%B")


def test_git_url_clones_one_ref(git_project: Path, git: Callable[..., str]) -> None:
    git(git_project, "commit", "-q", "--allow-empty", "-m", "after the tag")
    url = f"file://{git_project}"
    rec = add_repo(f"git+{url}@v0.1.0")
    assert rec.kind == "git" and rec.source == f"{url}@v0.1.0"
    assert rec.origin["commit"] == git(git_project, "rev-parse", "v0.1.0")
    assert git(Path(rec.path), "rev-list", "--all", "--count") == "1"
    assert get_snapshot(f"git+{url}@v0.1.0").id == rec.id
    assert ensure_snapshot(f"{url}@v0.1.0").id == rec.id


def test_bad_git_url_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(RepoError) as err:
        add_repo(f"file://{tmp_path}/missing.git")
    assert "cannot clone" in err.value.message
    assert err.value.hint is not None and "check the URL" in err.value.hint


def test_escaping_symlinks_are_dropped(project: Path) -> None:
    (project / "inside").symlink_to("pkg/__init__.py")
    (project / "outside").symlink_to("/etc/passwd")
    (project / "up").symlink_to("../../etc")
    rec = add_repo(str(project))
    snap = Path(rec.path)
    assert (snap / "inside").is_symlink() and (snap / "inside").read_text().startswith("def add")
    assert not (snap / "outside").exists() and not (snap / "outside").is_symlink()
    assert not (snap / "up").is_symlink()


def test_empty_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RepoError, match="holds no files"):
        add_repo(str(tmp_path))


def test_catalog_lookup_by_prefix_and_spec(project: Path) -> None:
    rec = add_repo(str(project))
    assert get_snapshot(rec.id[:8]).id == rec.id
    assert get_snapshot(str(project)).id == rec.id
    assert rec.id in {r.id for r in list_snapshots()}
    with pytest.raises(RepoError) as err:
        get_snapshot("pypi:never-added-here==0.0.1")
    assert err.value.hint == "add it first: codekiln repo add pypi:never-added-here==0.0.1"


def test_pypi_sdist(toolz_snapshot: SnapshotRecord, git: Callable[..., str]) -> None:
    rec = toolz_snapshot
    assert (rec.kind, rec.name, rec.version, rec.source) == ("pypi", "toolz", "1.2.0", "pypi:toolz==1.2.0")
    assert rec.has_tests and "toolz/tests/test_itertoolz.py" in snapshot_files(rec)
    assert git(Path(rec.path), "rev-list", "--all", "--count") == "1"
    again = add_repo("pypi:toolz==1.2.0")  # pinned release: answered from the catalog
    assert (again.id, again.created) == (rec.id, rec.created)
    assert get_snapshot("pypi:TOOLZ==1.2.0").id == rec.id
    # unpinned, as `synth pypi:toolz` was given: the release it resolved to (`env show pypi:toolz`)
    assert get_snapshot("pypi:toolz").id == rec.id
    with pytest.raises(RepoError, match="no snapshot for 'pypi:toolz-not-added'"):
        get_snapshot("pypi:toolz-not-added")


@pytest.mark.network  # asks PyPI
def test_unknown_pypi_package() -> None:
    with pytest.raises(RepoError) as err:
        add_repo("pypi:codekiln-no-such-package-xyz==1.0")
    assert "PyPI has no source distribution for codekiln-no-such-package-xyz==1.0" in err.value.message
    assert err.value.hint is not None and "pypi.org/project/codekiln-no-such-package-xyz" in err.value.hint


@pytest.mark.network  # asks PyPI
def test_sdist_without_tests() -> None:
    with pytest.raises(RepoError) as err:
        add_repo("pypi:sortedcontainers==2.4.0")
    assert "ships no tests" in err.value.message
    assert err.value.hint is not None and "git" in err.value.hint


def _tar_with(member: str, tmp_path: Path) -> Path:
    path = tmp_path / "evil-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo(member)
        info.size = 4
        tf.addfile(info, io.BytesIO(b"evil"))
    return path


@pytest.mark.parametrize("member", ["../evil.txt", "/tmp/evil.txt", "pkg/../../evil.txt"])
def test_unpack_rejects_path_traversal(member: str, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(RepoError, match="unsafe path"):
        unpack(_tar_with(member, tmp_path), tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists() and not list((tmp_path / "out").iterdir())


def test_unpack_rejects_links_out_of_the_tree(tmp_path: Path) -> None:
    path = tmp_path / "link-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo("pkg/passwd")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(info)
    (tmp_path / "out").mkdir()
    with pytest.raises(RepoError, match="cannot unpack"):
        unpack(path, tmp_path / "out")


@pytest.fixture(params=["filter", "no-filter"])
def tar_filters(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both extraction paths: Python's "data" filter, and the checks made where it is missing (< 3.11.4)."""
    if request.param == "no-filter":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    elif not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python has no tar extraction filters (before 3.11.4)")
    return str(request.param)


@pytest.mark.parametrize(
    ("name", "kind", "target"),
    [
        ("pkg/passwd", tarfile.SYMTYPE, "/etc/passwd"),
        ("pkg/up", tarfile.SYMTYPE, "../../outside"),
        ("pkg/hard", tarfile.LNKTYPE, "../outside"),
        ("pkg/dev", tarfile.CHRTYPE, ""),
    ],
)
def test_unpack_refuses_what_the_data_filter_refuses(
    tmp_path: Path, tar_filters: str, name: str, kind: bytes, target: str
) -> None:
    path = tmp_path / "bad-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, target
        tf.addfile(info)
    (tmp_path / "out").mkdir()
    with pytest.raises(RepoError, match="cannot unpack"):
        unpack(path, tmp_path / "out")
    assert list((tmp_path / "out").rglob("*")) == []


def test_unpack_keeps_files_and_links_inside_the_tree(tmp_path: Path, tar_filters: str) -> None:
    path = tmp_path / "ok-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        data = b"X = 1\n"
        info = tarfile.TarInfo("ok-1.0/pkg/mod.py")
        info.size, info.mode = len(data), 0o4777
        tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("ok-1.0/pkg/alias.py")
        link.type, link.linkname = tarfile.SYMTYPE, "mod.py"
        tf.addfile(link)
    (tmp_path / "out").mkdir()
    top = unpack(path, tmp_path / "out")
    assert top == tmp_path / "out" / "ok-1.0"
    assert (top / "pkg" / "alias.py").read_bytes() == b"X = 1\n"
    assert (top / "pkg" / "mod.py").stat().st_mode & 0o7777 == 0o755


def test_unpack_rejects_zip_traversal(tmp_path: Path) -> None:
    path = tmp_path / "evil-1.0.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("../evil.txt", "evil")
    (tmp_path / "out").mkdir()
    with pytest.raises(RepoError, match="unsafe path"):
        unpack(path, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_ensure_snapshot_rereads_local_dirs_and_accepts_ids(project: Path) -> None:
    first = ensure_snapshot(str(project))
    assert ensure_snapshot(first.id).id == first.id
    (project / "pkg" / "new.py").write_text("X = 1\n")
    second = ensure_snapshot(str(project))
    assert second.id != first.id and second.files == first.files + 1
    assert get_snapshot(str(project)).id == second.id  # the newest snapshot of that directory


def test_sdists_are_downloaded_once(toolz_snapshot: SnapshotRecord) -> None:
    first = download_sdist("toolz", "1.2.0")
    again = download_sdist("Toolz", "1.2.0")
    assert first == again and first.name == "toolz-1.2.0.tar.gz"
    assert first.stat().st_ino == again.stat().st_ino  # the cached archive, not a fresh download
