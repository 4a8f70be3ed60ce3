"""Python source files in any encoding Python accepts, and the text form patches carry them in.

Two views of one file:

    text = read_python(path)                 # what Python reads: PEP 263 cookie or BOM honoured
    new = encode_python(mutated, like=path.read_bytes())   # written back in the file's own encoding
    patch = make_diff(rel, byte_text(old_bytes), byte_text(new))

The source view is for code that reads or changes code (entities, mutators, statements, model
prompts): it is decoded as the interpreter decodes it (`tokenize.detect_encoding`), with universal
newlines, as `Path.read_text` gave before. The byte view is for patches: every patch codekiln makes
and applies is text in which a file's bytes are decoded as UTF-8 with `surrogateescape`, so
`git apply` and `apply_diff` give back the exact bytes (a latin-1 `\\xe9` is the lone surrogate
`\\udce9` in the patch; a BOM is `\\ufeff` on line 1). For a UTF-8 file without a BOM the two views are
the same text, so nothing changes for most files. A file that is not valid in its declared encoding
is a `SourceEncodingError` (callers leave it out with that reason).
"""

from __future__ import annotations

import codecs
import io
import re
import tokenize
from pathlib import Path

from codekiln.core.diffs import common_ends
from codekiln.core.errors import TaskError

BYTES = ("utf-8", "surrogateescape")
"""How a file's bytes are held in patch text (and turned back into the same bytes)."""


class SourceEncodingError(TaskError):
    """A Python source file that cannot be decoded the way Python would decode it."""


def byte_text(data: bytes) -> str:
    """A file's bytes as patch text (exact: `text_bytes(byte_text(b)) == b`)."""
    return data.decode(*BYTES)


def text_bytes(text: str) -> bytes:
    return text.encode(*BYTES)


def read_byte_text(path: str | Path) -> str:
    return byte_text(Path(path).read_bytes())


def is_utf8_text(text: str) -> bool:
    """Whether patch text holds only valid UTF-8 (no byte of another encoding)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_plain_text(text: str) -> bool:
    """Whether patch text is also the file's source text (UTF-8 without a BOM), so that `ast.parse` of
    the text reads the file as Python does; else parse `text_bytes(text)`."""
    return not text.startswith("\ufeff") and is_utf8_text(text)


def parse_form(text: str) -> str | bytes:
    """What to hand `ast.parse` or `compile` for a file held as patch text: the text when that is the
    source, else its bytes (so the coding cookie or BOM is honoured)."""
    return text if is_plain_text(text) else text_bytes(text)


def source_encoding(data: bytes, rel: str = "<source>") -> str:
    """The codec Python decodes `data` with: `utf-8-sig` for a BOM, the PEP 263 cookie's, else utf-8."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as err:  # an unknown codec, a cookie against a BOM, non-UTF-8 bytes without one
        raise SourceEncodingError(
            f"{rel}: {err.msg}",
            hint="Python cannot import this file either (no codec it knows, or bytes that are not UTF-8 "
            "and no declaration of another encoding); it is left out",
        ) from None
    return encoding


def decode_python(data: bytes, rel: str = "<source>", *, universal: bool = True) -> str:
    """The source text Python reads from `data`, with universal newlines (as `read_text` gives) unless
    `universal` is False (an editor that writes the text back keeps the file's own)."""
    encoding = source_encoding(data, rel)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        raise SourceEncodingError(
            f"{rel} is not valid {encoding}: byte {data[err.start : err.start + 1]!r} at offset {err.start}",
            hint="Python cannot import this file either; it is left out",
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n") if universal else text


def read_python(path: str | Path, rel: str | None = None) -> str:
    return decode_python(Path(path).read_bytes(), rel or str(path))


def is_plain_utf8(data: bytes, rel: str = "<source>") -> bool:
    """Whether the file's source text and its patch text are the same (UTF-8, no BOM, and no carriage
    return, which the source view turns into a newline)."""
    return (
        source_encoding(data, rel) == "utf-8" and not data.startswith(codecs.BOM_UTF8) and b"\r" not in data
    )


def encode_python(text: str, like: bytes, rel: str = "<source>") -> bytes:
    """`text` as the bytes of a file in the encoding (and BOM) of `like`, the file it came from.

    Raises SourceEncodingError when the text holds a character that encoding cannot write."""
    encoding = source_encoding(like, rel)
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as err:
        raise SourceEncodingError(
            f"{rel}: {text[err.start : err.end]!r} cannot be written in the file's encoding ({encoding})",
            hint="the change is left out; a change to this file must use characters its encoding has",
        ) from None


def patch_text_of(source_text: str, like: bytes, rel: str = "<source>") -> str:
    """The patch text of a file whose source text is `source_text` (see the module docstring), an edit
    of the file whose bytes are `like`: in its encoding, with its line ends."""
    text = source_text if is_plain_utf8(like, rel) else byte_text(encode_python(source_text, like, rel))
    return newlines_like(text, byte_text(like))


_LINE_END = re.compile(r"\r\n|\r|\n")


def _ended_lines(text: str) -> list[tuple[str, str]]:
    """(line, its end: "\r\n", "\r", "\n" or "" for a last line without one) for each line."""
    out, pos = [], 0
    for end in _LINE_END.finditer(text):
        out.append((text[pos : end.start()], end.group()))
        pos = end.end()
    return [*out, (text[pos:], "")] if pos < len(text) else out


def newlines_like(new: str, old: str) -> str:
    """`new`, an edit in universal newlines of the file whose exact text is `old`, with `old`'s line
    ends: each line of the unchanged start and end keeps its own, a changed line takes that of the
    first line changed. A file with Windows line ends (pytweening 1.2.0) gave bugs whose patches did
    not apply to it."""
    if "\r" not in old:
        return new
    was, now = _ended_lines(old), _ended_lines(new)
    head, tail = common_ends([line for line, _ in was], [line for line, _ in now])
    first = was[min(head, len(was) - 1)][1] or "\r\n"
    ends = [end for _, end in was[:head]]
    ends += [first] * (len(now) - head - tail)
    ends += [end for _, end in was[len(was) - tail :]] if tail else []
    return "".join(
        line + ((end or now_end) if now_end else "") for (line, now_end), end in zip(now, ends, strict=True)
    )


__all__ = [
    "BYTES",
    "SourceEncodingError",
    "byte_text",
    "decode_python",
    "encode_python",
    "is_plain_text",
    "is_plain_utf8",
    "is_utf8_text",
    "newlines_like",
    "parse_form",
    "patch_text_of",
    "read_byte_text",
    "read_python",
    "source_encoding",
    "text_bytes",
]
