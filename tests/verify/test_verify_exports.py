"""The public surface of codekiln.verify is explicit and pinned."""

from __future__ import annotations

import codekiln.verify


def test_all_is_pinned_and_importable() -> None:
    assert codekiln.verify.__all__ == sorted(codekiln.verify.__all__, key=lambda n: (not n.isupper(), n))
    assert set(codekiln.verify.__all__) == {
        "SELECTORS",
        "Choice",
        "Problem",
        "Program",
        "Runner",
        "Selector",
        "View",
        "load_problems",
    }
    for name in codekiln.verify.__all__:
        assert getattr(codekiln.verify, name) is not None
    assert set(codekiln.verify.SELECTORS) == {"random", "public", "majority", "mbr", "codet", "search"}
