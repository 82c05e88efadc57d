"""Where a test lives and what the run asks for: resolves relative table paths and names snapshots."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

SNAPSHOT_DIR = "__audit_snapshots__"
SNAPSHOT_SUFFIX = ".csv"


def file_name(text: str) -> str:
    """A test id as a portable file name: "test_x[reference:vgg16]" -> "test_x[reference_vgg16]"."""
    cleaned = re.sub(r"[^\w.\-\[\]@+=]", "_", text).strip("._")
    return cleaned or "snapshot"


@dataclass
class Context:
    """One test's view of the run (the pytest plugin fills it in; standalone use gets the cwd)."""

    base_dir: str = field(default_factory=os.getcwd)
    """Relative table and snapshot paths start here: the test file's folder under pytest."""
    module: str = ""
    """The test module's stem: snapshots go to __audit_snapshots__/<module>/."""
    test: str = "snapshot"
    """The test's name (with its parameter id): the default snapshot name."""
    update: bool = False
    """--audit-update: write or refresh snapshots instead of comparing."""
    on_write: Callable[[str, str], None] | None = None
    """Called with (path, "written" | "updated") after a snapshot file changes."""
    _names: dict[str, int] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<Context {self.test} in {self.base_dir}{' (update)' if self.update else ''}>"

    def resolve(self, path: str | os.PathLike[str]) -> str:
        return os.path.join(self.base_dir, os.fspath(path))

    def snapshot_path(self, name: str | None = None) -> str:
        """`name`, or the test's name (-2, -3 ... for a test's second and later unnamed snapshots)."""
        stem = file_name(name if name is not None else self.test)
        if name is None:
            seen = self._names.get(stem, 0) + 1
            self._names[stem] = seen
            stem = f"{stem}-{seen}" if seen > 1 else stem
        return os.path.join(self.base_dir, SNAPSHOT_DIR, file_name(self.module) if self.module else "",
                            stem + SNAPSHOT_SUFFIX)

    def wrote(self, path: str, what: str | None) -> None:
        if what is not None and self.on_write is not None:
            self.on_write(path, what)


def display_path(path: str) -> str:
    """`path` relative to the working directory when it lies below it, else as given."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


__all__ = ["Context", "SNAPSHOT_DIR", "display_path", "file_name"]
