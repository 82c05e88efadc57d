"""TorchScript archives recognised by their content, and checked before `torch.jit.load` sees them.

Framework-free (zipfile and tokenize only), so `audit DIR` can sniff every file without importing torch.
`torch.jit.load` reads the archive's pickles with TorchScript's own C++ unpickler, which imports no
Python callable, and compiles the archive's TorchScript code; the only archive code it runs while
loading is a class's ``__setstate__``.  TorchScript code can call any operator registered in the
process, and three of them touch files (`aten::save`, `aten::from_file`, `debugprims::load_tensor`),
so an archive whose code names one of them, or an operator outside torch's own namespaces, is
refused before it is loaded.  Members that would inflate far beyond their stored size are refused too.
"""

from __future__ import annotations

import io
import tokenize
import zipfile
import zlib

from auditor.errors import InputError

FILE_OPERATORS = frozenset({"save", "from_file", "load_tensor", "debugprims"})
"""Names of the TorchScript operators that write or read files (aten::save, aten::from_file, debugprims::*)."""

OPERATOR_NAMESPACES = frozenset({"aten", "prim", "quantized", "_quantized"})
"""`ops.<namespace>.<op>` namespaces archive code may call: torch's own operators."""

MAX_CODE_BYTES = 256 * 2**20
"""Code and pickles (everything but tensor data) of the biggest real archives are a few MB."""

MAX_RATIO = 200
"""torch.jit.save stores tensor data uncompressed and deflates code ~5x: a member inflating more is a bomb."""


def _members(path: str) -> list[zipfile.ZipInfo]:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return []


def archive_root(names: list[str]) -> str | None:
    """The folder `root/` that holds `root/constants.pkl` and `root/code/...` (torch.jit.save's layout), if any."""
    roots = {n[: -len("constants.pkl")] for n in names if n.endswith("constants.pkl") and n.count("/") == 1}
    return next((r for r in sorted(roots) if any(n.startswith(r + "code/") for n in names)), None)


def _starts_like_a_zip(path: str) -> bool:
    """The first four bytes only: sniffing every file must not read (zipfile would scan 64 KiB of each)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def is_torchscript(path: str) -> bool:
    """True when `path` is a zip laid out as torch.jit.save writes it, whatever its extension."""
    return _starts_like_a_zip(path) and archive_root([m.filename for m in _members(path)]) is not None


def check_archive(path: str) -> None:
    """Refuse (InputError) an archive that could exhaust memory or whose code could touch files."""
    members = _members(path)
    root = archive_root([m.filename for m in members])
    if root is None:
        raise InputError(f"{path}: not a TorchScript archive (not a zip holding code/ and constants.pkl)")
    meta = [m for m in members if not m.filename.startswith(root + "data/")]
    for member in members:
        if member.compress_size and member.file_size > MAX_RATIO * member.compress_size and member.file_size > 2**24:
            raise InputError(f"{path}: refused: member {member.filename!r} would inflate "
                             f"{member.file_size // member.compress_size}x (a zip bomb?)")
    if sum(m.file_size for m in meta) > MAX_CODE_BYTES:
        raise InputError(f"{path}: refused: its code and pickles exceed {MAX_CODE_BYTES // 2**20} MiB")
    with zipfile.ZipFile(path) as archive:
        for member in meta:
            if member.filename.startswith(root + "code/") and member.filename.endswith(".py"):
                problem = _code_problem(_read(archive, member, path).decode("utf-8", "replace"))
                if problem:
                    raise InputError(f"{path}: refused: its TorchScript code ({member.filename}) {problem}, "
                                     "and loading or running the archive would execute that code")


def _read(archive: zipfile.ZipFile, member: zipfile.ZipInfo, path: str) -> bytes:
    try:
        return archive.read(member)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError) as err:
        raise InputError(f"{path}: not a readable TorchScript archive ({member.filename}: {err})") from None


def _code_problem(source: str) -> str | None:
    """What in TorchScript source could touch files or call outside torch's operators, else None."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
                  if t.type in (tokenize.NAME, tokenize.OP, tokenize.STRING)]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return "cannot be tokenized"
    for i, token in enumerate(tokens):
        text = token.string.strip("'\"") if token.type == tokenize.STRING else token.string
        if text in FILE_OPERATORS:
            return f"names {text!r}, an operator that reads or writes files"
        if text == "ops" and i + 2 < len(tokens) and tokens[i + 1].string == ".":
            namespace = tokens[i + 2].string
            if namespace not in OPERATOR_NAMESPACES:
                return f"calls operators of namespace {namespace!r}"
    return None
