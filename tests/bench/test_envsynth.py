"""Which rows `bench/envbuild.py --synth-only` reruns the synthesis of (`envsynth.wants_synth`)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from envsynth import wants_synth


def test_synth_only_reruns_built_rows_without_a_synthesis_and_every_built_row_with_redo() -> None:
    built = {"library": "a", "codekiln": {"ok": True}}
    synthesized = {**built, "synth": {"tasks": 3, "synth_status": "done"}}
    failed = {"library": "b", "codekiln": {"ok": False, "status": "build failed"}}
    assert wants_synth(built, redo=False) and not wants_synth(synthesized, redo=False)
    assert wants_synth(synthesized, redo=True)
    for row in (failed, {"library": "c", "verdict": "no sdist"}, None):  # nothing built to synthesize on
        assert not wants_synth(row, redo=False) and not wants_synth(row, redo=True)
