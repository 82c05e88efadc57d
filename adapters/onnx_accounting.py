"""Where every tensor of an ONNX file went: a layer's parameter, quantization metadata, a constant, or nothing.

The ledger owns the file's tensors during the walk (first user owns, later users share) and at the
end sorts every tensor nobody owns into the notes (shape constants, scalars, constant tables, unused)
or into `unattributed`: a float or quantized tensor the graph consumes that no layer owns, so the
report can never claim to have verified it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from adapters.onnx_constants import Constants, Part, Source
from adapters.onnx_graph import Graph, text
from adapters.onnx_reads import Index, partitioned

if TYPE_CHECKING:
    from auditor.ir_tensors import LooseTensor


class Ledger:
    """Who owns each of the file's tensors, and how the graph used the ones nobody owns (see the module)."""

    __slots__ = ("sources", "owners", "quantization", "shape_uses", "constant_inputs", "uses", "weight_inputs",
                 "counted_paths", "reads", "fixed_lookups")

    def __init__(self) -> None:
        self.sources: dict[str, Source] = {}
        self.owners: dict[tuple[str, str | None], str] = {}
        self.quantization: set[str] = set()
        """Sources owned as quantization metadata."""
        self.shape_uses: set[str] = set()
        self.constant_inputs: set[str] = set()
        """Sources used as constant inputs that are not parameters (initial states, rotary caches)."""
        self.uses: dict[str, list[str]] = defaultdict(list)
        """Source -> the ops that consumed it as data (for naming unattributed tensors)."""
        self.weight_inputs: dict[str, Source] = {}
        self.counted_paths: dict[str, int] = {}
        self.reads: dict[str, dict[str, Index | None]] = defaultdict(dict)
        """Source -> the Slice/Gather views taken of it so far (region -> positions read)."""
        self.fixed_lookups: dict[str, str] = {}
        """Table -> the rows an embedding lookup at constant indices reads ("8 of 64 rows")."""

    def add_sources(self, constants: Constants) -> None:
        self.sources.update(constants.sources)
        self.shape_uses |= constants.shape_uses
        for name, regions in constants.reads.items():
            self.reads[name].update(regions)

    def counted_whole(self, part: Part) -> bool:
        """A Slice/Gather view whose source the graph's reads do not partition exactly (repeated or
        unread elements): the source is counted whole, once, and the view is a tied use of it."""
        return part.read and not partitioned(part.source.shape, list(self.reads.get(part.source.name, {}).values()))

    def weight_input(self, name: str, graph: Graph) -> Source:
        """A graph input used as a weight: its declared shape is all the file says about it."""
        if name not in self.weight_inputs:
            shape = tuple(d if isinstance(d, int) else 0 for d in (graph.shape(name) or ()))
            self.weight_inputs[name] = Source(text(name), shape, graph.dtype(name) or 1, "graph_input")
            self.sources[name] = self.weight_inputs[name]
        return self.weight_inputs[name]

    def owner(self, part: Part) -> str | None:
        return self.owners.get(part.key) or self.owners.get((part.source.name, None))

    def claim(self, part: Part, path: str, quantization: bool = False) -> str | None:
        """Make `path` the owner of `part` unless it has one; returns the earlier owner (a tied use)."""
        earlier = self.owner(part)
        if earlier is None:
            self.owners[part.key] = path
            if quantization:
                self.quantization.add(part.source.name)
        return earlier

    def record_use(self, source: Source, node: Any) -> None:
        self.uses[source.name].append(text(node.name or node.op_type))

    def unique_path(self, path: str) -> str:
        path = text(path)
        count = self.counted_paths.get(path, 0)
        self.counted_paths[path] = count + 1
        return path if count == 0 else f"{path}#{count}"

    def _owned_names(self) -> set[str]:
        return {key[0] for key in self.owners}

    def unattributed(self) -> list[LooseTensor]:
        """Float or quantized tensors with more than one element that ops consume and no layer owns."""
        owned = self._owned_names()
        loose = [s for s in self.sources.values()
                 if s.name not in owned and s.is_weight_type and s.numel > 1 and self.uses.get(s.name)
                 and s.name not in self.constant_inputs]
        if not loose:  # the common case: the record's class is not even created
            return []
        from auditor.ir_tensors import LooseTensor

        return [LooseTensor(s.name, s.shape, s.dtype, tuple(dict.fromkeys(self.uses[s.name]))) for s in loose]

    def notes(self, graph: Graph) -> list[str]:
        """What the user should know about the tensors that are not parameters."""
        owned = self._owned_names()
        loose = [s for s in self.sources.values() if s.name not in owned]
        groups: dict[str, list[Source]] = {"table": [], "shape": [], "scalar": [], "unused": [], "unattributed": []}
        for source in loose:
            groups[_group(source, self)].append(source)
        notes = []
        if groups["table"]:
            notes.append(f"constant operator inputs that are not weights (initial states, caches, resize "
                         f"scales): {_summary(groups['table'])}: {_names(groups['table'])}")
        if groups["shape"]:
            notes.append(f"shape, axis and index constants, not parameters: {_summary(groups['shape'])}")
        if groups["scalar"]:
            notes.append(f"one-element constants (epsilons, scale factors), not parameters: "
                         f"{_summary(groups['scalar'])}")
        if groups["unused"]:
            notes.append(f"tensors no operator uses, not counted: {_summary(groups['unused'])}: "
                         f"{_names(groups['unused'])}")
        weight_inputs = [s for s in self.weight_inputs.values() if s.name in owned]
        if weight_inputs:
            notes.append(f"weights given as graph inputs without initializers (exported with export_params=False?): "
                         f"the file declares their shapes but carries no values: {_summary(weight_inputs)}")
        if self.quantization:
            notes.append(f"quantization metadata (scales, zero points), counted in its own total: "
                         f"{len(self.quantization)} tensors; quantized weights count their logical elements")
        fills = [s for s in self.sources.values() if s.origin == "constant_of_shape" and s.name in owned]
        if self.fixed_lookups:
            read = ", ".join(f"{name} reads {rows}" for name, rows in list(self.fixed_lookups.items())[:4])
            notes.append(f"embedding tables read at constant indices (traced positions, token types), counted "
                         f"whole as the file stores them: {read}")
        if fills:
            notes.append(f"weights stored as ConstantOfShape fills of a constant shape (no values in the file), "
                         f"counted as parameters: {_summary(fills)}")
        return notes


def _group(source: Source, ledger: Ledger) -> str:
    used = source.name in ledger.uses
    if source.name in ledger.constant_inputs:
        return "table" if source.is_weight_type and source.numel > 1 else "shape"
    if not source.is_weight_type:
        return "shape" if used or source.name in ledger.shape_uses else "unused"
    if source.numel <= 1:
        return "scalar" if used or source.name in ledger.shape_uses else "unused"
    if source.name in ledger.shape_uses and not used:
        return "shape"
    return "unused" if not used else "unattributed"


def _summary(sources: list[Source]) -> str:
    count = sum(s.numel for s in sources)
    return f"{len(sources)} tensor{'s' if len(sources) != 1 else ''}, {count:,} element{'s' if count != 1 else ''}"


def _names(sources: list[Source], shown: int = 4) -> str:
    names = ", ".join(s.name for s in sources[:shown])
    return names + (f" and {len(sources) - shown} more" if len(sources) > shown else "")
