"""`--functions`: the entities a synthesis run may mutate, by `file::qualname` or qualname."""

from __future__ import annotations

from pathlib import Path

import pytest

from codekiln.core.errors import ConfigError
from codekiln.tasks.frontend.entities import find_entities, named


def test_a_name_the_snapshot_does_not_define_is_refused(tmp_path: Path) -> None:
    # A typo used to select nothing: synth ran, made 0 tasks and exited 0.
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(
        "def groupby(x):\n    return x\n\n\nclass A:\n    def f(self):\n        return 1\n"
    )
    entities = find_entities(tmp_path)
    assert [e.id for e in named(entities, ["groupby", "pkg/m.py::A.f"])] == [
        "pkg/m.py::groupby",
        "pkg/m.py::A.f",
    ]
    with pytest.raises(ConfigError) as err:
        named(entities, ["groupby", "grupby"])
    assert err.value.message == "--functions names 1 that the snapshot does not define: grupby"
    assert "pkg/m.py::" in str(err.value.hint)
