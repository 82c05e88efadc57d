"""One forward pass of a script module's graph on meta tensors, recording what each layer saw.

TorchScript runs no Python hooks, so the pass runs a weight-free copy of the inlined forward graph
(`torchscript_graph`) into which a probe operator (`nn_auditor::probe`, recording a tensor's shape)
is inserted around every stretch of nodes one layer ran, found by each node's module hierarchy.
Probes inside loops record every iteration.  Operators outside every layer that cost MACs (matmul,
attention, convolution, linear) are recorded as `Op`s, as `torch_trace` records them for an nn.Module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch

from adapters.torch_events import Call, Op, Trace
from adapters.torchscript_graph import (
    Hierarchy,
    detach_tensors,
    op_event,
    operator_problem,
)
from adapters.torchscript_segments import Segment, Segmenter
from auditor.ir import Shape

_LIBRARY: list[Any] = []
"""The torch.library that defines the probe operator, kept alive once it is registered."""
_RECORDS: list[list[tuple[int, Shape]]] = []
"""The event lists of the passes running now (innermost last); the probe appends to the last."""


def _probe_operator() -> None:
    """Register `nn_auditor::probe(Tensor x, int event) -> ()` once per process (side-effecting: never removed)."""
    if _LIBRARY:
        return
    library = torch.library.Library("nn_auditor", "DEF")
    library.define("probe(Tensor x, int event) -> ()", alias_analysis="CONSERVATIVE")
    library.impl("probe", _record, "CompositeExplicitAutograd")
    _LIBRARY.append(library)


def _record(x: torch.Tensor, event: int) -> None:
    if _RECORDS:
        _RECORDS[-1].append((event, tuple(int(d) for d in x.shape)))


@dataclass(frozen=True)
class _Event:
    segment: int
    output: bool
    position: int


def _insert_probes(graph: Any, segments: list[tuple[Any, Segment]]) -> list[_Event]:
    """A probe before each segment for each of its inputs and after it for each output; the events' meaning."""
    events: list[_Event] = []

    def probe(value: Any, event: _Event) -> tuple[Any, Any]:
        constant = graph.insertConstant(len(events))
        events.append(event)
        return constant.node(), graph.create("nn_auditor::probe", [value, constant], 0)

    for index, (_, segment) in enumerate(segments):
        first = segment.nodes[0]
        for position, value in enumerate(segment.inputs):
            constant, node = probe(value, _Event(index, False, position))
            constant.moveBefore(first)
            node.insertBefore(first)
        tensors, anchor = _unpacked(graph, segment.outputs, segment.nodes[-1])
        for value in tensors:
            constant, node = probe(value, _Event(index, True, sum(e.segment == index and e.output for e in events)))
            constant.moveAfter(anchor)
            node.insertAfter(constant)
            anchor = node
    return events


def _unpacked(graph: Any, values: list[Any], after: Any) -> tuple[list[Any], Any]:
    """(the tensors of `values`, the last node inserted): a tuple (an If's result) is unpacked by a
    prim::TupleUnpack placed after `after`."""
    tensors = []
    for value in values:
        if value.type().kind() != "TupleType":
            tensors.append(value)
            continue
        elements = value.type().elements()
        unpack = graph.create("prim::TupleUnpack", [value], len(elements))
        for output, element in zip(unpack.outputs(), elements):
            output.setType(element)
        unpack.insertAfter(after)
        inner, after = _unpacked(graph, [o for o in unpack.outputs() if o.type().kind() in ("TensorType", "TupleType")],
                                 unpack)
        tensors.extend(inner)
    return tensors, after


def _calls(events: list[_Event], records: list[tuple[int, Shape]], segments: list[Segment]) -> list[tuple[int, list[Shape], list[Shape]]]:
    """(segment, input shapes, output shapes) of every segment run, in execution order."""
    runs: list[tuple[int, list[Shape], list[Shape]]] = []
    for event_id, shape in records:
        event = events[event_id]
        segment = segments[event.segment]
        starts = event.position == 0 and (not event.output or not segment.inputs)
        if starts or not runs or runs[-1][0] != event.segment:
            runs.append((event.segment, [], []))
        (runs[-1][2] if event.output else runs[-1][1]).append(shape)
    return runs


def run_script_pass(module: Any, layers: set[str], inputs: list[torch.Tensor]) -> Trace:
    """Run `module`'s forward graph on meta `inputs`; the calls of `layers` (module paths) and the ops between.

    Nothing here raises: a graph that cannot be prepared or run leaves `Trace.error` set, with what was recorded."""
    trace = Trace()
    try:
        prepared = _prepare(module, layers)
    except Exception as err:  # noqa: BLE001 - a damaged or unusual graph must not end the audit
        trace.error = f"the forward graph could not be prepared ({_first_line(err)})"
        return trace
    if isinstance(prepared, str):
        trace.error = prepared
        return trace
    graph, segments, events, stand_ins = prepared
    records: list[tuple[int, Shape]] = []
    _RECORDS.append(records)
    try:
        function = torch._C._create_function_from_graph("nn_auditor_shape_pass", graph)
        with torch.jit.optimized_execution(False), torch.no_grad():
            function(module._c, *inputs, *_defaults(module, len(inputs)), *stand_ins)
    except Exception as err:  # noqa: BLE001 - the model's own code can fail on meta; keep what was recorded
        trace.error = _first_line(err)
    finally:
        _RECORDS.pop()
    trace.events = _trace_events(events, records, segments)
    return trace


def _prepare(module: Any, layers: set[str]) -> str | tuple[Any, list[Segment], list[_Event], list[Any]]:
    """(probed weight-free graph, its segments, probe events, meta stand-ins), or why the graph must not run."""
    try:
        graph = module.inlined_graph
    except (AttributeError, RuntimeError) as err:
        return f"the module has no forward graph ({type(err).__name__})"
    problem = operator_problem(graph)
    if problem:
        return f"forward not run: {problem}"
    stand_ins, weights = detach_tensors(graph, module)
    segmenter = Segmenter(Hierarchy(module), layers, weights)
    segmenter.split(graph.block())
    events = _insert_probes(graph, segmenter.segments)
    _probe_operator()
    return graph, [s for _, s in segmenter.segments], events, stand_ins


def _trace_events(events: list[_Event], records: list[tuple[int, Shape]], segments: list[Segment]) -> list[Call | Op]:
    """Layer calls (``path#n`` from the second call on) and operators, in the order they ran."""
    out: list[Call | Op] = []
    calls: dict[str, int] = {}
    ops: dict[str, int] = {}
    for index, ins, outs in _calls(events, records, segments):
        segment = segments[index]
        if segment.op is not None:
            op = op_event(segment.op, segment.owner, ins, outs, ops)
            if op is not None:
                out.append(op)
            continue
        n = calls[segment.key] = calls.get(segment.key, 0) + 1
        out.append(Call(segment.key, segment.key if n == 1 else f"{segment.key or '(root)'}#{n}", ins, outs))
    return out


def _defaults(module: Any, given: int) -> list[Any]:
    """Default values of forward's arguments after the `given` positional inputs."""
    arguments = module.forward.schema.arguments[1 + given:]
    missing = [f"{a.name} ({a.type})" for a in arguments if not a.has_default_value()]
    if missing:
        raise TypeError(f"forward also needs {', '.join(missing)}: give one input shape per tensor input, "
                        "or example_inputs= from Python for other arguments")
    return [a.default_value for a in arguments]


def _first_line(err: Exception) -> str:
    """The error itself: a TorchScript interpreter error ends with it after two tracebacks."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    if "TorchScript" in str(err):
        lines = [line for line in lines if re.match(r"\w*(Error|Exception):", line)] or lines[-1:]
        return lines[-1][:300] if lines else type(err).__name__
    return f"{type(err).__name__}: {lines[0] if lines else ''}"[:300]
