"""The sample rule of bench/envbuild.py: which PyPI libraries it measures, picked by a rule, not by hand.

    python bench/envbuild.py --derive            # walk the rule again and rewrite the pinned sample

The rule, applied in order of rank among PyPI's most downloaded projects
(`/work/.library/env/packages/pypi.tsv`: name, version, month, rank, summary), to the version listed:

1. skipped if the list gives no version ("no version listed");
2. skipped if any file under tests/ names it (word match on the name, `-`/`_`/`.` spelled either way),
   so the sample is unseen by our own tests ("named by tests/");
3. its sdist is fetched with `pip download --no-deps --no-binary :all: NAME==VERSION` (3 min limit);
   skipped when there is none ("no sdist": wheel-only) or pip fails ("pip download failed": pip also
   prepares the sdist's metadata, which fails when its build dependencies do not install here);
4. kept only within a bound that lets one library fit a few minutes on 2 cores: the sdist at most
   2 MiB ("sdist too large"), at most 400 Python files ("too many modules"), no Rust crate
   (Cargo.toml or *.rs: minutes of compiling per build, "Rust extension"), and at least one test
   file (test_*.py or *_test.py: "no tests in sdist").

Decisions are appended to `decisions.jsonl` in the bench's work directory as they are made (a stopped
walk resumes), and the chosen libraries are pinned in `bench/envbuild_sample.json` (committed), which
later runs use as is, so they measure the same sample.
"""

from __future__ import annotations

import json
import re
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from codekiln.core.proc import run, tail
from codekiln.core.records import append_jsonl, atomic_write_json, iter_jsonl

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = Path("/work/.library/env/packages/pypi.tsv")
PINNED = ROOT / "bench" / "envbuild_sample.json"
MAX_SDIST_BYTES = 2 * 1024 * 1024
MAX_PY_FILES = 400
DOWNLOAD_TIMEOUT_S = 180
RULE = (
    "PyPI projects in download-rank order (pypi.tsv), at the listed version; skipped: no version, named by "
    "any file under tests/, no sdist, sdist > 2 MiB, > 400 .py files, a Rust crate, no test_*.py/*_test.py"
)


@dataclass(frozen=True)
class Candidate:
    name: str
    version: str
    rank: int


def ranked(packages: Path = PACKAGES) -> list[Candidate]:
    """Every project of the list that has a download rank, most downloaded first."""
    rows = []
    with packages.open(encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 4 and cols[3].strip().isdigit():
                rows.append(Candidate(cols[0], cols[1].strip(), int(cols[3])))
    return sorted(rows, key=lambda c: c.rank)


def tests_text(root: Path = ROOT / "tests") -> str:
    """All text under tests/, lowercased: what 'named by tests/' is matched against."""
    parts = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            parts.append(path.read_bytes().decode("utf-8", errors="ignore").lower())
    return "\n".join(parts)


def named_in(name: str, text: str) -> bool:
    """True if `text` names the project as a word, spelled with `-`, `_` or `.` between its parts."""
    parts = [re.escape(p) for p in re.split(r"[-_.]+", name.lower()) if p]
    pattern = r"(?<![a-z0-9_])" + r"[-_.]".join(parts) + r"(?![a-z0-9_])"
    return re.search(pattern, text) is not None


def archive_members(archive: Path) -> list[str]:
    """The file names inside an sdist archive (.tar.gz, .tar.bz2, .tgz, .zip)."""
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            return [i.filename for i in zf.infolist() if not i.is_dir()]
    with tarfile.open(archive) as tf:
        return [m.name for m in tf.getmembers() if m.isfile()]


def judge_archive(size: int, members: list[str]) -> str:
    """'' if the sdist is within the bound of the rule, else the reason it is not (a pure function)."""
    if size > MAX_SDIST_BYTES:
        return f"sdist too large ({size / 2**20:.1f} MiB > 2 MiB)"
    names = [m.rsplit("/", 1)[-1] for m in members]
    if any(n == "Cargo.toml" or n.endswith(".rs") for n in names):
        return "Rust extension"
    py = sum(n.endswith(".py") for n in names)
    if py > MAX_PY_FILES:
        return f"too many modules ({py} .py files > {MAX_PY_FILES})"
    if not any(re.fullmatch(r"test_.*\.py|.*_test\.py", n) for n in names):
        return "no tests in sdist"
    return ""


def download(name: str, version: str, dest: Path) -> tuple[Path | None, str]:
    """`pip download` the sdist of name==version into dest: (archive, '') or (None, reason)."""
    dest.mkdir(parents=True, exist_ok=True)
    wanted = re.sub(r"[-_.]+", "_", f"{name}-{version}".lower())
    for found in dest.iterdir():
        stem = re.sub(r"\.(tar\.gz|tar\.bz2|tgz|zip)$", "", found.name)
        if re.sub(r"[-_.]+", "_", stem.lower()) == wanted:
            return found, ""
    with tempfile.TemporaryDirectory(prefix="envbench-dl-") as tmp:
        argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        argv += ["-q", "--disable-pip-version-check", "-d", tmp, f"{name}=={version}"]
        res = run(argv, timeout=DOWNLOAD_TIMEOUT_S)
        files = [p for p in Path(tmp).iterdir() if p.is_file()]
        if not files:
            log = res.stdout + res.stderr
            if res.timed_out:
                return None, "pip download timed out"
            if "No matching distribution" in log or "Could not find a version" in log:
                return None, "no sdist"
            return None, f"pip download failed ({tail(log, 1)[:160]})"
        target = dest / files[0].name
        files[0].replace(target)
        return target, ""


def decide(cand: Candidate, tests: str, sdists: Path) -> dict[str, object]:
    """Apply the rule to one candidate: a decision row with `keep` and, if not kept, `reason`."""
    row: dict[str, object] = {"name": cand.name, "version": cand.version, "rank": cand.rank}
    if not cand.version:
        return {**row, "keep": False, "reason": "no version listed"}
    if named_in(cand.name, tests):
        return {**row, "keep": False, "reason": "named by tests/"}
    archive, why = download(cand.name, cand.version, sdists)
    if archive is None:
        return {**row, "keep": False, "reason": why}
    reason = judge_archive(archive.stat().st_size, archive_members(archive))
    row["sdist"] = archive.name
    return {**row, "keep": not reason, "reason": reason} if reason else {**row, "keep": True}


def walk(work: Path, size: int, *, derive: bool = False) -> Iterator[dict[str, object]]:
    """The chosen libraries, one decision row each, as the rule picks them (resuming `decisions.jsonl`).

    Without `derive`, a pinned sample of at least `size` libraries is used as it stands."""
    if not derive and PINNED.is_file():
        pinned = json.loads(PINNED.read_text())
        if len(pinned["chosen"]) >= size:
            yield from pinned["chosen"][:size]
            return
    log = work / "decisions.jsonl"
    if derive and log.exists():
        log.unlink()
    done = {str(r["name"]): r for r in iter_jsonl(log)} if log.exists() else {}
    tests = tests_text()
    chosen: list[dict[str, object]] = []
    for cand in ranked():
        if len(chosen) >= size:
            break
        row = done.get(cand.name)
        if row is None:
            row = decide(cand, tests, work / "sdists")
            append_jsonl(log, [row])
            done[cand.name] = row
            pin(done, size)
        if row["keep"]:
            chosen.append(row)
            yield row
    pin(done, size)


def pin(decisions: dict[str, dict[str, object]], size: int) -> None:
    """Write the pinned sample: the rule, the chosen libraries, and every skipped one with its reason."""
    chosen = [r for r in decisions.values() if r["keep"]][:size]
    skipped = [r for r in decisions.values() if not r["keep"]]
    atomic_write_json(PINNED, {"rule": RULE, "size": size, "chosen": chosen, "skipped": skipped})
