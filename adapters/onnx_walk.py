"""Walk an ONNX graph into IR layers: nodes become layers, the file's tensors become their parameters.

Constant sub-computations (weight chains) are folded away (`onnx_constants`); a MatMul with its bias
Add is one dense layer (`onnx_fusion`); If/Loop/Scan bodies are walked as nested layers under the
path `node/then_branch/...`, sharing the ownership of outer-scope weights with the rest of the model.
A tensor used by two layers is owned by the first (tied weights: `shared_with` on the second).
"""

from __future__ import annotations

from typing import Any

from adapters.onnx_accounting import Ledger
from adapters.onnx_constants import (
    DATA_INPUTS,
    SHAPE_READERS,
    Constants,
    ConstValue,
    Part,
    Source,
    find_constants,
)
from adapters.onnx_fusion import Plan, fuse, plan
from adapters.onnx_graph import Graph, subgraphs, text
from adapters.onnx_names import scope_path
from adapters.onnx_reads import GATHER_LIMIT
from adapters.onnx_translation import CONSTANT, WEIGHT_INPUT, Known, Translation, op_kind, real_inputs
from adapters.onnx_translators import translator_for
from auditor.ir import DTYPE_BYTES, Layer, ParamTensor, Shape


def build_layers(graph: Graph) -> tuple[list[Layer], Ledger]:
    """Translate every node (subgraphs included) into IR layers; the ledger says where each tensor went."""
    ledger = Ledger()
    layers: list[Layer] = []
    walk_graph(graph, None, "", ledger, layers)
    return layers, ledger


def walk_graph(graph: Graph, outer: Constants | None, prefix: str, ledger: Ledger, layers: list[Layer]) -> None:
    constants = find_constants(graph, outer)
    ledger.add_sources(constants)
    fusions = plan(graph, lambda name: name in constants)
    for node in graph.nodes:
        inputs = list(node.input)
        values = [constants.get(name) if name else None for name in inputs]  # one look-up serves both passes
        record_uses(node, values, constants, ledger)
        if id(node) in constants.folded or id(node) in fusions.absorbed:
            continue
        known = known_inputs(inputs, values, constants)
        layer = translate(node, graph, constants, prefix, ledger, layers, fusions, known)
        if id(node) not in graph.holders:
            continue
        for attribute, body in subgraphs(node):
            inner = Graph.build(body, {t.name: t for t in body.initializer}, graph.schemas, parent=graph)
            walk_graph(inner, constants, f"{layer.path}/{attribute}/", ledger, layers)


def record_uses(node: Any, values: list[ConstValue | None], constants: Constants, ledger: Ledger) -> None:
    """Note which of the file's tensors `node` computes with (shape-only inputs excepted); `values`: the
    constant value of each of its inputs, else None."""
    if node.op_type in SHAPE_READERS or (node.op_type == "ConstantOfShape" and not node.domain):
        return
    positions = DATA_INPUTS.get(node.op_type) if id(node) in constants.folded else None
    for index, value in enumerate(values):
        if value is None or (positions is not None and index not in positions):
            continue
        for part in value.parts:
            ledger.record_use(part.source, node)


def known_inputs(inputs: list[str], values: list[ConstValue | None], constants: Constants) -> Known:
    """The node's inputs that are constants or weight inputs, each once, in input order."""
    known: Known = {}
    for name, value in zip(inputs, values):
        if not name or name in known:
            continue
        if value is not None:
            known[name] = CONSTANT
        elif constants.weight_input(name) is not None:
            known[name] = WEIGHT_INPUT
    return known


def translate(node: Any, graph: Graph, constants: Constants, prefix: str, ledger: Ledger, layers: list[Layer],
              fusions: Plan, known: Known) -> Layer:
    """Append `node`'s layer (and rows for learned constants it uses loose) to `layers`; returns its layer.
    `known`: its inputs that are constants or weight inputs (`known_inputs`)."""
    translator = translator_for(node, graph.schemas)
    translation = translator(node, graph, known) if translator else unknown(node, graph, known)
    outputs = fuse(node, translation, graph, fusions,
                   lambda name: name in constants or constants.weight_input(name) is not None)
    path = ledger.unique_path(prefix + _path(node, translation, constants, ledger))
    output = graph.shape(outputs[0]) if outputs and outputs[0] else None
    layer = Layer(
        path=path,
        kind=translation.kind,
        source_type=f"onnx:{text(node.domain) + '.' if node.domain else ''}{text(node.op_type)}",
        attrs=translation.attrs,
        input_shapes=translation.shapes if translation.shapes is not None else known_shapes(graph, translation.data_inputs),
        output_shapes=[output] if output is not None else [],
        params=[],
    )
    helpers: list[Part] = []
    constant_inputs = [name for name, what in known.items() if what == CONSTANT]
    whole = _whole_sources(node, constant_inputs, translation, constants, prefix, path, ledger, fusions)
    for slot, name in translation.weights:
        layer.params.extend(_slot_params(slot, name, path, translation, graph, constants, ledger, helpers))
    for name in translation.quantization:
        layer.params.extend(_owned(p, path, ledger, quantization=True) for p in _parts(name, graph, constants, ledger))
    for name in translation.constants:
        ledger.constant_inputs.update(p.source.name for p in _parts(name, graph, constants, ledger))
    claimed = {n for _, n in translation.weights}.union(translation.quantization, translation.constants) \
        if constant_inputs else set()
    loose: list[Layer] = []
    for name in constant_inputs:
        if name in claimed:
            continue
        if node.op_type in SHAPE_READERS:
            ledger.shape_uses.update(p.source.name for p in constants.get(name).parts)  # type: ignore[union-attr]
            continue
        if name in fusions.states:  # a zero initial state on its way to an RNN
            ledger.constant_inputs.update(p.source.name for p in constants.get(name).parts)  # type: ignore[union-attr]
            continue
        loose.extend(_loose(name, node, prefix, constants, ledger))
    loose += [parameter_row(p, prefix, f"used to compute the weight of {path}", ledger) for p in helpers
              if ledger.owner(p) is None]
    layers.extend([*whole, *loose, layer])
    _note_fixed_lookup(node, translation, graph, constants, ledger)
    return layer


def _whole_sources(node: Any, constant_inputs: list[str], translation: Translation, constants: Constants, prefix: str,
                   path: str, ledger: Ledger, fusions: Plan) -> list[Layer]:
    """A row of its own for each source this node reads a Slice/Gather view of that is not one part of an
    exact partition: the file's tensor counted whole, once; the node's view becomes a tied use of it.
    `constant_inputs`: the node's distinct inputs that are constants, in order."""
    if node.op_type in SHAPE_READERS or not constant_inputs:
        return []
    skipped = set(translation.constants) | set(translation.quantization) | set(fusions.states)
    rows = []
    for name in constant_inputs:
        value = constants.get(name) if name not in skipped else None
        for part in value.parts if value is not None else ():
            if part.quantization or not ledger.counted_whole(part) or ledger.owner(part) is not None:
                continue
            rows.append(parameter_row(Part(part.source), prefix, f"read in part by {path} (Slice/Gather at constant "
                                      "indices)", ledger))
    return rows


def _note_fixed_lookup(node: Any, translation: Translation, graph: Graph, constants: Constants,
                       ledger: Ledger) -> None:
    """An embedding read at constant indices: the rows it reads, for the notes (the whole table is counted)."""
    if translation.kind != "embedding" or node.op_type != "Gather" or node.input[1] not in constants:
        return
    table = constants.get(node.input[0])
    indices = graph.int_values(node.input[1], GATHER_LIMIT)
    rows = int(translation.attrs["num_embeddings"])
    read = f"{len(set(indices))} of {rows:,} rows" if indices is not None else f"rows at constant indices of {rows:,}"
    for part in table.parts if table is not None else ():
        ledger.fixed_lookups.setdefault(part.source.name, read)


def known_shapes(graph: Graph, names: list[str]) -> list[Shape]:
    """The shapes of `names` up to the first one shape inference could not give (unknown is not ())."""
    shapes: list[Shape] = []
    for name in names:
        shape = graph.shape(name)
        if shape is None:
            break
        shapes.append(shape)
    return shapes


def _parts(name: str, graph: Graph, constants: Constants, ledger: Ledger) -> tuple[Part, ...]:
    value = constants.get(name)
    if value is not None:
        return value.parts
    source = constants.weight_input(name)
    if source is not None:
        return (Part(ledger.weight_input(source, graph)),)
    return ()


def _slot_params(slot: str, name: str, path: str, translation: Translation, graph: Graph, constants: Constants,
                 ledger: Ledger, helpers: list[Part]) -> list[ParamTensor]:
    """The parameters behind one weight slot: the parts of the file's tensors the value is made of.

    Scales and zero points of a DequantizeLinear on the way are quantization metadata.  When the value
    was computed from several tensors (weight normalisation: g and v), the one of the slot's size is the
    weight and the others become rows of their own.
    """
    parts = _parts(name, graph, constants, ledger)
    weights = [p for p in parts if not p.quantization]
    size = _numel(graph.shape(name))
    if size is not None and len(weights) > 1 and sum(p.numel for p in weights) != size:
        exact = [p for p in weights if p.numel == size]
        if len(exact) == 1:
            helpers.extend(p for p in weights if p is not exact[0])
            weights = exact
    packed = translation.packed.get(slot)
    params = [_owned(p, path, ledger, trainable=slot not in translation.statistics, packed=packed) for p in weights]
    params += [_owned(p, path, ledger, quantization=True) for p in parts if p.quantization]
    return params


def _owned(part: Part, path: str, ledger: Ledger, *, trainable: bool = True, quantization: bool = False,
           packed: Any = None) -> ParamTensor:
    """`part` as a parameter (or quantization state) of the layer at `path`, shared with its first owner."""
    owner = ledger.claim(part, path, quantization)
    source = part.source
    name = source.name if part.view is None else f"{source.name}[{part.view}]"
    shape = part.shape if part.shape is not None else source.shape
    numel = part.numel
    stored = source.stored_bytes(numel)
    if packed is not None:  # a packed weight: its logical shape, its stored form kept in `packing`
        from auditor.ir_tensors import Packing

        return ParamTensor(name=name, shape=packed.shape, trainable=trainable, shared_with=owner,
                           dtype=f"int{packed.bits}", stored_bytes=stored,
                           packing=Packing(name, shape, source.dtype, packed.formula))
    dtype = source.dtype
    exact = stored == numel * DTYPE_BYTES.get(dtype, 4)
    return ParamTensor(name=name, shape=shape, trainable=trainable and not quantization, shared_with=owner,
                       dtype=dtype, stored_bytes=None if exact else stored, quant_state=quantization)


def _loose(name: str, node: Any, prefix: str, constants: Constants, ledger: Ledger) -> list[Layer]:
    """A learned tensor a generic op uses (a cls token concatenated to the tokens): its own row."""
    rows = []
    for part in constants.get(name).parts:  # type: ignore[union-attr]
        if not part.source.is_weight_type or part.numel <= 1 or ledger.owner(part) is not None:
            continue
        rows.append(parameter_row(part, prefix, f"used by {text(node.op_type)}", ledger))
    return rows


def parameter_row(part: Part, prefix: str, why: str, ledger: Ledger) -> Layer:
    """An `unverified` row for a tensor no rule can size: counted, named, never dropped."""
    path = ledger.unique_path(prefix + _strip_leaf(part.source.name))
    param = _owned(part, path, ledger, quantization=part.quantization)
    return Layer(path=path, kind="parameter", source_type=f"onnx:{part.source.origin} {why}", attrs={},
                 output_shapes=[param.shape], params=[param])


def unknown(node: Any, graph: Graph, known: Known) -> Translation:
    """An op no translator knows: unverified; the constants it uses become `parameter` rows of their own."""
    return Translation(op_kind(node), {"op": text(node.op_type)}, real_inputs(node))


def _path(node: Any, translation: Translation, constants: Constants, ledger: Ledger) -> str:
    """The weight's prefix, else the PyTorch module path an exporter recorded, else the node name.  A
    weight another layer already uses (tensors an exporter merged) names this layer only when the
    exporter recorded no module path for it."""
    first = translation.weights[0][1] if translation.weights else None
    value = constants.get(first) if first else None
    recorded: str | None = None
    if first and (value is None or (value.parts and value.parts[0].view is None)):
        source = value.parts[0].source.name if value is not None else text(first)
        if "." in source and not source.startswith("onnx::"):
            owned = value is not None and ledger.owner(value.parts[0]) is not None
            recorded = _recorded_path(node) if owned else None
            if not recorded:
                return _strip_leaf(source)
    recorded = recorded or _recorded_path(node)
    if recorded:
        return recorded
    if not node.name and translation.weights:
        return text(translation.weights[0][1])
    return text(node.name or node.op_type)


def _recorded_path(node: Any) -> str | None:
    """The module path a torch exporter recorded: the dynamo exporter's name scopes, TorchScript's node name."""
    scopes = _metadata(node, "pkg.torch.onnx.name_scopes")
    if scopes:
        last: list[str] = []  # the last two scopes, innermost first
        for scope in reversed(scopes.strip("[]").split(",")):
            scope = scope.strip(" '\"")
            if scope:
                last.append(scope)
                if len(last) == 2:
                    return scope
        if last:  # a function called in the top-level forward: the exporter's name for the call ("relu_1")
            return last[0]
    return scope_path(text(node.name))


def _metadata(node: Any, key: str) -> Any:
    """The value of `node`'s metadata entry `key`, else None."""
    for prop in node.metadata_props:
        if prop.key == key:
            return prop.value
    return None


def _strip_leaf(name: str) -> str:
    """"f.3.weight" -> "f.3"; names without a dot stay as they are."""
    return name.rsplit(".", 1)[0] if "." in name else name


def _numel(shape: Shape | None) -> int | None:
    if shape is None or not all(isinstance(d, int) for d in shape):
        return None
    total = 1
    for d in shape:
        total *= int(d)
    return total


__all__ = ["Source", "build_layers", "parameter_row"]
