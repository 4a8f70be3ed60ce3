"""Where codekiln keeps its state, and how configuration is loaded.

State lives under `$CODEKILN_HOME` (default `~/.cache/codekiln`): snapshots, environments, images.
Components take one pydantic config model each; `load_config(Model, ["preset.yaml", "a.b=1"])` merges
YAML presets and dotted `key=value` overrides (values parsed as YAML) in order, as the CLI's `-c` does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from codekiln.core.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def home() -> Path:
    """The state directory; created on first use."""
    root = Path(os.environ.get("CODEKILN_HOME") or Path.home() / ".cache" / "codekiln").absolute()
    root.mkdir(parents=True, exist_ok=True)
    return root


def state_dir(*parts: str) -> Path:
    path = home().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    node = tree
    *parents, leaf = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"cannot set {key!r}: {part!r} is not a section", hint="check the key path")
    node[leaf] = value


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _yaml(text: str, what: str) -> Any:
    """`yaml.safe_load(text)`; malformed YAML is a ConfigError naming `what` and the line."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(
            f"{what} is not valid YAML{where}: {problem}",
            hint="quote a value YAML cannot read, e.g. key='[a'",
        ) from err


def merge_sources(sources: list[str]) -> dict[str, Any]:
    """Merge YAML files and `key.path=value` overrides, later ones winning."""
    tree: dict[str, Any] = {}
    for src in sources:
        if "=" in src and not Path(src).exists():
            key, _, raw = src.partition("=")
            _set_dotted(tree, key.strip(), _yaml(raw, f"the value of {key.strip()}") if raw.strip() else "")
            continue
        path = Path(src)
        if not path.exists():
            raise ConfigError(
                f"config {src!r} is neither a file nor key=value", hint="use -c file.yaml or -c key=value"
            )
        loaded = _yaml(path.read_text(), f"config file {src}") or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {src} must hold a mapping at top level")
        tree = _merge(tree, loaded)
    return tree


def load_config(model: type[M], sources: list[str] | None = None, **defaults: Any) -> M:
    """Build `model` from defaults, then presets and overrides in `sources`."""
    tree = _merge(defaults, merge_sources(sources or []))
    try:
        return model.model_validate(tree)
    except ValidationError as err:
        raise ConfigError(
            f"invalid {model.__name__} configuration:\n{err}", hint="see --help for valid keys"
        ) from err
