"""The budget's options (the CLI's --memory flags) and the precision recipes they name."""

from __future__ import annotations

from dataclasses import dataclass

from auditor.errors import InputError
from auditor.memory.choices import CHECKPOINTING, DEVICES, MODES, OPTIMIZERS, RECIPES
from auditor.pass_facts import PassInfo


@dataclass(frozen=True)
class Recipe:
    """How a precision setting stores weights, gradients and optimizer state, and how it computes."""

    name: str
    weights: str | None
    """dtype of floating weights (None: as the model was built)."""
    autocast: str | None = None
    """Mixed precision: matmuls and convolutions run in this dtype on cast copies of the weights."""

    @property
    def cast(self) -> str | None:
        """The dtype the model is cast to before the pass, for pure recipes."""
        return None if self.autocast else self.weights


PRECISIONS = {name: Recipe(name, weights, autocast) for name, (weights, autocast) in RECIPES.items()}
"""Each precision setting's recipe (the names and dtypes: `auditor.memory.choices.RECIPES`)."""


@dataclass(frozen=True)
class MemoryOptions:
    """What to budget: training or inference, at which batch and sequence length, with what recipe."""

    mode: str = "train"
    batch: int | None = None
    seq: int | None = None
    precision: str | None = None
    """None: the model's own dtypes."""
    optimizer: str = "adamw"
    checkpointing: str = "none"
    device: str = "cuda"
    """Whose kernels decide dropout masks and attention kernels: "cuda" (default) or "cpu"."""

    def __post_init__(self) -> None:
        _choose("--memory", self.mode, MODES)
        _choose("--optimizer", self.optimizer, OPTIMIZERS)
        _choose("--checkpointing", self.checkpointing, CHECKPOINTING)
        _choose("device", self.device, DEVICES)
        if self.precision is not None:
            _choose("--precision", self.precision, tuple(PRECISIONS))
        for name in ("batch", "seq"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise InputError(f"--{name} must be a positive integer, not {value!r}")

    @property
    def recipe(self) -> Recipe:
        return PRECISIONS[self.precision] if self.precision else Recipe("model dtypes", None)

    @property
    def training(self) -> bool:
        return self.mode == "train"

    def pass_request(self) -> PassInfo:
        """How the adapter should run its shape pass for this budget."""
        recipe = self.recipe
        return PassInfo(training=self.training, device="cpu", autocast=recipe.autocast, dtype=recipe.cast)


def _choose(flag: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InputError(f"{flag} {value!r}: expected one of {', '.join(choices)}")
