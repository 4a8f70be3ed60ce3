"""`bench/envbuild.py --synth-only`: (re)run only the short synthesis of rows that lack it, keeping the
rest of each row (its plain run, codekiln's build and their verdict) as it was.

The bench builds each library in a temporary CODEKILN_HOME that is removed with the row's scratch, so no
build survives for a later synthesis: this rebuilds the environment from the same sdist archive in a
fresh home (`run_codekiln`, the build step as the row ran it) and runs `run_synth` on it. The row gets
`synth` as a full run would write it, and `synth_build`: the rebuild's status, time and counts, so a
reader sees which build the synthesis ran on (a rebuild that no longer builds leaves `synth` out).
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import envsample
from envrun import run_codekiln, run_synth


def wants_synth(row: dict[str, object] | None, redo: bool) -> bool:
    """Whether `--synth-only` runs this row's synthesis: it built, and has no synthesis yet (any with `redo`)."""
    if row is None or not (row.get("codekiln") or {}).get("ok"):  # type: ignore[union-attr]
        return False
    return redo or "synth" not in row


def synth_one(
    lib: dict[str, object], row: dict[str, object], work: Path, pip_cache: Path, keep: bool = False
) -> dict[str, object]:
    """`row` with a new synthesis on a fresh build of the library (see the module docstring); `keep`
    leaves the home (the build, its coverage map) and the synthesis's output under WORK/kept/NAME."""
    name, version = str(lib["name"]), str(lib["version"])
    archive, why = envsample.download(name, version, work / "sdists")
    out = {**row}
    out.pop("synth", None)
    if archive is None:
        out["synth_build"] = {"ok": False, "status": f"no sdist: {why}"}
        return out
    spec = f"pypi:{name}=={version}"
    kept = work / "kept" / name
    if keep:
        shutil.rmtree(kept, ignore_errors=True)
        kept.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="envsynth-") as tmp:
        scratch = kept if keep else Path(tmp)
        home = scratch / "home"
        ck = run_codekiln(spec, archive, home, pip_cache)
        out["synth_build"] = {
            k: ck.get(k) for k in ("ok", "status", "build_s", "baseline_s", "passed", "failed", "skipped")
        }
        if ck.get("ok"):
            out["synth"] = run_synth(spec, home, pip_cache, scratch / "synth", row.get("plain"), ck)  # type: ignore[arg-type]
    out["synth_finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    return out
