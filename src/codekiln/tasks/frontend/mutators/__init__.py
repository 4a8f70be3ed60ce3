"""Procedural bug injectors (`func_pm`) for Python: small declarative mutators over the `ast`.

    from codekiln.tasks.frontend.mutators import load_mutators
    mutators = load_mutators()                       # all of them, in registry order
    mutators = load_mutators(["flip_comparison"])     # by name (or "pkg.module:Class" for your own)

See `base.py` for how to write one; `codekiln.tasks.frontend.candidates` runs them over a snapshot's entities.
"""

from __future__ import annotations

from codekiln.core.registry import Registry
from codekiln.tasks.frontend.entities import CODE_KINDS
from codekiln.tasks.frontend.mutators.base import Edit, Mutator, SourceFile, apply_edits

_PKG = "codekiln.tasks.frontend.mutators"

MUTATORS = Registry(
    "mutator",
    {
        "flip_comparison": f"{_PKG}.operators:FlipComparison",
        "swap_bool_op": f"{_PKG}.operators:SwapBoolOp",
        "change_arith_op": f"{_PKG}.operators:ChangeArithOp",
        "negate_condition": f"{_PKG}.control:NegateCondition",
        "swap_if_else": f"{_PKG}.control:SwapIfElse",
        "remove_guard": f"{_PKG}.control:RemoveGuard",
        "remove_raise": f"{_PKG}.control:RemoveRaise",
        "remove_loop_jump": f"{_PKG}.control:RemoveLoopJump",
        "remove_statement": f"{_PKG}.blocks:RemoveStatement",
        "reorder_statements": f"{_PKG}.blocks:ReorderStatements",
        "off_by_one": f"{_PKG}.values:OffByOne",
        "change_constant": f"{_PKG}.values:ChangeConstant",
        "swap_call_args": f"{_PKG}.values:SwapCallArgs",
        "change_default_arg": f"{_PKG}.values:ChangeDefaultArg",
        "wrong_return": f"{_PKG}.values:WrongReturn",
        "remove_base_class": f"{_PKG}.classes:RemoveBaseClass",
        "remove_method": f"{_PKG}.classes:RemoveMethod",
        # data entities only (`Mutator.kinds`): module- and class-level tables and constants
        "drop_entry": f"{_PKG}.data:DropEntry",
        "wrong_mapping_value": f"{_PKG}.data:WrongMappingValue",
        "misspell_string": f"{_PKG}.data:MisspellString",
        # data files a package ships (`frontend.datafiles`), one line at a time
        "misspell_data_name": f"{_PKG}.text:MisspellDataName",
        "change_data_number": f"{_PKG}.text:ChangeDataNumber",
        "drop_data_line": f"{_PKG}.text:DropDataLine",
        "swap_data_lines": f"{_PKG}.text:SwapDataLines",
    },
)


def load_mutators(names: list[str] | None = None) -> list[Mutator]:
    """Instances of the named mutators (all registered ones when `names` is None)."""
    return [MUTATORS.load(name)() for name in (names if names is not None else MUTATORS.names())]


def code_mutators() -> list[Mutator]:
    """The registered mutators of code (functions, methods, classes), in registry order: what mutates
    a span of code outside synthesis's entities (SRI's corruptions, the verifier's mutants); the
    data-only ones would act there on any literal, as no data entity limits them."""
    return [m for m in load_mutators() if m.kinds & CODE_KINDS]


__all__ = ["MUTATORS", "Edit", "Mutator", "SourceFile", "apply_edits", "code_mutators", "load_mutators"]
