"""JSON schema -> TypeScript, the way the harmony format (gpt-oss) declares tools in the developer turn.

As gpt-oss's chat template writes it: a description is one `// ` line (a multi-line one keeps its later
lines as they are), a default follows the type as `, // default: VALUE,` (VALUE as JSON, or as is for an
enum).

namespace functions {

// Run a shell command.
type bash = (_: {
command: string,
timeout?: number, // default: 30,
}) => any;

} // namespace functions
"""

from __future__ import annotations

from typing import Any

from codekiln.formats.base import Tool, tool_functions
from codekiln.formats.codec_json import dumps


def ts_type(schema: Any) -> str:
    """A JSON schema as a TypeScript type, the way harmony writes tool parameters."""
    if not isinstance(schema, dict):
        return "any"
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return " | ".join(dumps(v) for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return " | ".join(ts_type(s) for s in schema[key])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(ts_type({**schema, "type": k}) for k in kind)
    if kind == "array":
        inner = ts_type(schema.get("items"))
        return f"Array<{inner}>" if " " in inner or "\n" in inner else f"{inner}[]"
    if kind == "object" and isinstance(schema.get("properties"), dict) and schema["properties"]:
        return "{\n" + ts_fields(schema) + "}"
    return {
        "string": "string",
        "integer": "number",
        "number": "number",
        "boolean": "boolean",
        "null": "null",
    }.get(str(kind), "object" if kind == "object" else "any")


def _comment(text: Any) -> str:
    return f"// {text}\n"


def ts_fields(schema: dict[str, Any]) -> str:
    required = set(schema.get("required") or [])
    out = ""
    for name, spec in schema["properties"].items():
        spec = spec if isinstance(spec, dict) else {}
        out += _comment(spec["description"]) if spec.get("description") else ""
        value = spec.get("default")
        default = f", // default: {value if spec.get('enum') else dumps(value)}" if "default" in spec else ""
        out += f"{name}{'' if name in required else '?'}: {ts_type(spec)}{default},\n"
    return out


def ts_namespace(tools: list[Tool]) -> str:
    out = "## functions\n\nnamespace functions {\n\n"
    for fn in tool_functions(tools).values():
        params = fn.get("parameters") or {}
        out += _comment(fn["description"]) if fn.get("description") else ""
        fields = (
            ts_fields(params) if isinstance(params.get("properties"), dict) and params["properties"] else ""
        )
        out += f"type {fn['name']} = " + (f"(_: {{\n{fields}}}) => any;\n\n" if fields else "() => any;\n\n")
    return out + "} // namespace functions"
