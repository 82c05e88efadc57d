"""Audit options: one frozen `AuditOptions`, parsed once from keyword arguments or the command line.

Every adapter takes an `AuditOptions`.  `AuditOptions.parse(**kwargs)` is the only code that reads
values a user typed, so an unknown option (`input_shap=`) or a malformed value (`"1xA"`) is the same
one-line `OptionError` (an `InputError`: the CLI exits 2) from the API, the pytest plugin and the CLI.

To add an option, add one field to `AuditOptions` with `option(default, parser, aliases=...)`: the
parser turns what a user gives into the field's type and raises ValueError (its message says what
was expected) for anything else (parsers live in `auditor.option_values`).  Nothing else needs to
change for the option to be accepted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from auditor.errors import InputError
from auditor.memory.choices import CHECKPOINTING, DEVICES, MODES, OPTIMIZERS, RECIPES
from auditor.option_values import (
    Parser,
    anything,
    dtype_name,
    one_of,
    parse_bool,
    parse_builder_options,
    parse_count,
    parse_dtypes,
    parse_framework,
    parse_positive,
    parse_shapes,
    parse_text,
    split_typed_shapes,
)
from auditor.records import record

if TYPE_CHECKING:
    from auditor.memory.options import MemoryOptions
    from auditor.pass_facts import PassInfo


class OptionError(InputError):
    """An option nn-auditor does not have, or a value it cannot read: `option`, `value` and what is wrong."""

    def __init__(self, option: str, value: Any, problem: str) -> None:
        self.option, self.value, self.problem = option, value, problem
        super().__init__(f"{option}={value!r} {problem}")

    @property
    def flag(self) -> str:
        """The option as the command line spells it: --input-shape."""
        return "--" + self.option.replace("_", "-")


def option(default: Any, parser: Parser, *aliases: str, compare: bool = True) -> Any:
    """A field of `AuditOptions`: its default, its parser and the other names users may give it."""
    return dataclasses.field(default=default, compare=compare, metadata={"parse": parser, "aliases": aliases})


@record(frozen=True, compiled_init=False)
class AuditOptions:
    """Everything a caller may say about how to read and report one model (all optional)."""

    input_shapes: tuple[tuple[int, ...], ...] | None = option(None, parse_shapes, "input_shape")
    """One shape per model input: fixes ONNX symbolic dims, builds PyTorch inputs, sets the Keras batch."""
    input_dtypes: tuple[str, ...] | None = option(None, parse_dtypes, "input_dtype", "dtype")
    """The inputs' dtypes, one for all or one per input: PyTorch's generated inputs ("int64" for token ids);
    a Keras model's inputs keep their own dtypes unless given."""
    example_inputs: Any = option(None, anything, compare=False)
    """Ready-made PyTorch inputs: a tensor, a tuple of them, or a dict of keyword inputs."""
    batch_size: int | None = option(None, parse_positive)
    """Fixes a Keras model's open batch dim."""
    name: str | None = option(None, parse_text)
    source: str | None = option(None, parse_text)
    framework: str | None = option(None, parse_framework)
    """Which build of a `reference:NAME` model ("torch" or "keras"; also `reference:NAME@keras`)."""
    builder_options: tuple[tuple[str, Any], ...] = option((), parse_builder_options)
    """Keyword arguments for a reference model's builder, e.g. {"aux_logits": True}."""
    depth: int = option(0, parse_count)
    """Fold report rows under their first N path components (0: one row per layer)."""
    strict: bool = option(False, parse_bool)
    """Unverified layers count as failures."""
    exact: bool = option(False, parse_bool)
    """A diff fails on any difference, even one explained by counting conventions or an exporter's rewrites
    (by default such an equivalent diff passes)."""
    memory: str | None = option(None, one_of(MODES))
    """Add the memory budget: "train" or "infer" (`auditor.memory`); the options below configure it."""
    batch: int | None = option(None, parse_positive)
    """The budget's batch size: replaces the input shape's first dim."""
    seq: int | None = option(None, parse_positive)
    """The budget's sequence length: replaces the second dim of (batch, seq[, features]) inputs."""
    precision: str | None = option(None, one_of(tuple(RECIPES)))
    """fp32, bf16, fp16 (everything in one dtype), bf16-mixed, fp16-mixed (autocast); default: as built."""
    optimizer: str = option("adamw", one_of(OPTIMIZERS))
    checkpointing: str = option("none", one_of(CHECKPOINTING))
    memory_device: str = option("cuda", one_of(DEVICES), "device")
    """Whose kernels the budget follows for dropout masks and attention: "cuda" or "cpu"."""
    left_input_shapes: tuple[tuple[int, ...], ...] | None = option(None, parse_shapes, "left_input_shape")
    """A diff's left model only: its own input shapes (a Keras NHWC side against a PyTorch NCHW one)."""
    right_input_shapes: tuple[tuple[int, ...], ...] | None = option(None, parse_shapes, "right_input_shape")
    left_input_dtypes: tuple[str, ...] | None = option(None, parse_dtypes, "left_input_dtype")
    right_input_dtypes: tuple[str, ...] | None = option(None, parse_dtypes, "right_input_dtype")
    debug: bool = option(False, parse_bool, compare=False)
    """Let frameworks' own log lines through to stderr (silenced otherwise; the CLI's --debug)."""

    @classmethod
    def parse(cls, base: AuditOptions | None = None, /, **values: Any) -> AuditOptions:
        """`base` (default: nothing set) with `values` parsed on top; OptionError for anything unreadable."""
        names = _names()
        chosen: dict[str, tuple[str, Any, Any]] = {}
        for given, value in _typed_shapes(values).items():
            if given not in names:
                raise OptionError(given, value, _unknown(given, names))
            field = names[given]
            if value is None:
                continue
            try:
                parsed = field.metadata["parse"](value)
            except ValueError as err:
                raise OptionError(given, value, str(err)) from None
            if field.name in chosen and chosen[field.name][2] != parsed:
                other = chosen[field.name][0]
                raise OptionError(given, value, f"disagrees with {other}={chosen[field.name][1]!r}; give one of them")
            chosen[field.name] = (given, value, parsed)
        options = dataclasses.replace(base or cls(), **{name: parsed for name, (_, _, parsed) in chosen.items()})
        options.check()
        return options

    def check(self, prefix: str = "") -> None:
        """Options that contradict each other (`prefix`: "left_" or "right_" names the side being checked)."""
        shapes, dtypes = self.input_shapes, self.input_dtypes
        if shapes is not None and dtypes is not None and len(dtypes) not in (1, len(shapes)):
            raise OptionError(f"{prefix}input_dtype", ",".join(dtypes),
                              f"gives {len(dtypes)} dtypes for {len(shapes)} input shapes")
        if self.memory is None:
            for name in ("batch", "seq", "precision"):
                if getattr(self, name) is not None:
                    raise OptionError(name, getattr(self, name),
                                      "configures the memory budget: add --memory train|infer (memory='train' in Python)")
        if not prefix:
            for side in SIDES:
                self.side(side).check(f"{side}_")

    @property
    def per_side(self) -> bool:
        """Some option was given for one side of a diff only."""
        return any(getattr(self, f"{side}_{name}") is not None for side in SIDES for name in _SIDE_FIELDS)

    def side(self, which: str) -> AuditOptions:
        """The options one side of a diff ("left" or "right") is read with: its own input shapes and
        dtypes where given, the common ones otherwise."""
        if which not in SIDES:
            raise ValueError(f"side {which!r} is not one of {SIDES}")
        mine = {name: getattr(self, f"{which}_{name}") for name in _SIDE_FIELDS}
        common = {name: getattr(self, name) if mine[name] is None else mine[name] for name in _SIDE_FIELDS}
        cleared: dict[str, Any] = {f"{side}_{name}": None for side in SIDES for name in _SIDE_FIELDS}
        return dataclasses.replace(self, **common, **cleared)

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """The first input's shape (most models have one input)."""
        return self.input_shapes[0] if self.input_shapes else None

    def memory_options(self) -> MemoryOptions | None:
        """The memory budget asked for, if any."""
        if self.memory is None:
            return None
        from auditor.memory.options import MemoryOptions  # lazily: an audit without a budget never builds one

        return MemoryOptions(self.memory, self.batch, self.seq, self.precision, self.optimizer, self.checkpointing,
                             self.memory_device)

    def memory_pass(self) -> PassInfo | None:
        """How an adapter should run its shape pass for the memory budget (None: no budget asked)."""
        chosen = self.memory_options()
        return None if chosen is None else chosen.pass_request()

    def dtype_of(self, index: int) -> str | None:
        """The dtype asked for input `index`, if any."""
        if not self.input_dtypes:
            return None
        return self.input_dtypes[0] if len(self.input_dtypes) == 1 else self.input_dtypes[index]


_DTYPE_NAMES = ("input_dtypes", "input_dtype", "dtype")


def _typed_shapes(values: dict[str, Any]) -> dict[str, Any]:
    """A shapes text with a dtype after each shape ("1x128:int32,1x128:int32") sets input_dtypes too."""
    for key in ("input_shapes", "input_shape"):
        text = values.get(key)
        if not isinstance(text, str):
            continue
        try:
            split = split_typed_shapes(text)
        except ValueError as err:
            raise OptionError(key, text, str(err)) from None
        if split is None:
            return values
        given = [name for name in _DTYPE_NAMES if values.get(name) is not None]
        if given:
            raise OptionError(key, text, f"gives dtypes and so does {given[0]}; give them in one place")
        return {**values, key: split[0], "input_dtypes": split[1]}
    return values


SIDES = ("left", "right")
_SIDE_FIELDS = ("input_shapes", "input_dtypes")
"""The options a diff may give each side on its own (`left_input_shapes`, `right_input_dtypes` ...)."""


def _names() -> dict[str, dataclasses.Field[Any]]:
    """Every name an option may be given by (its field name and its aliases) -> its field."""
    names: dict[str, dataclasses.Field[Any]] = {}
    for field in dataclasses.fields(AuditOptions):
        for name in (field.name, *field.metadata["aliases"]):
            names[name] = field
    return names


def _unknown(given: str, names: Mapping[str, Any]) -> str:
    import difflib  # only a misspelt option needs it

    close = difflib.get_close_matches(given, list(names), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"is not an option{hint}; options: {', '.join(sorted(names))}"


def resolve(options: AuditOptions | None, values: Mapping[str, Any]) -> AuditOptions:
    """What an adapter entry point does with its `options` and keyword arguments: parse them once."""
    if options is not None and not isinstance(options, AuditOptions):
        raise OptionError("options", options, "is not an AuditOptions")
    if not values and options is not None:
        return options
    return AuditOptions.parse(options, **values)


__all__ = ["AuditOptions", "OptionError", "dtype_name", "option", "parse_shapes", "resolve"]
