"""Saved Keras models read with Keras itself: the fallback when the config alone cannot be translated.

The config is rebuilt inside `keras.StatelessScope(initialize_variables=False)`, so every variable
gets its shape but no memory and no initial values; the rebuilt model's weight shapes must be the
ones the file stores.  A config Keras cannot rebuild that way goes through
`keras.saving.load_model(path, safe_mode=True, compile=False)`, which also reads the weight data.
safe_mode always stays on: a Lambda layer with Python bytecode is refused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import keras

from adapters.keras import deferred_variables, from_model
from auditor.errors import InputError, one_line
from auditor.ir import ModelIR
from auditor.options import AuditOptions


def from_archive_config(config: dict[str, Any]) -> Callable[[], Any]:
    """A builder of the model an archive's config describes, with safe_mode on and no compile state."""

    def build() -> Any:
        return keras.saving.deserialize_keras_object({**config, "compile_config": None}, safe_mode=True)

    return build


def from_legacy_config(config: dict[str, Any]) -> Callable[[], Any]:
    """A builder of the model a legacy .h5 config describes, as Keras's own h5 loader does, with safe_mode on."""

    def build() -> Any:
        from keras.src.legacy.saving import saving_options, saving_utils
        from keras.src.saving import serialization_lib

        with saving_options.keras_option_scope(use_legacy_config=True), serialization_lib.SafeModeScope(True):
            return saving_utils.model_from_config(config)

    return build


def read_with_keras(path: str, build: Callable[[], Any], stored: Counter[tuple[int, ...]] | None, where: str,
                    options: AuditOptions) -> ModelIR:
    """The IR of the model `build` rebuilds from the file's config, checked against the stored weight
    shapes; a config Keras cannot rebuild that way goes through `load_model` (safe_mode on)."""
    model, ir = _rebuild(path, build, options)
    if model is None or ir is None:
        return _with_loaded_model(path, options)
    if stored is not None:
        _check_stored_shapes(path, model, stored, where)
    ir.notes.append("read from the file's config and weight shapes (no weight data loaded)")
    return ir


def _rebuild(path: str, build: Callable[[], Any], options: AuditOptions) -> tuple[Any, ModelIR | None]:
    """(model, IR) built by `build` with deferred (never allocated) variables; (None, None) if Keras cannot."""
    with deferred_variables():
        try:
            model = _safe(build)
        except _UnsafeError as err:
            raise InputError(unsafe_message(path, err)) from None
        except Exception:  # noqa: BLE001 - the caller falls back to Keras's own loader
            return None, None
        return model, from_model(model, options)


def _safe(build: Callable[[], Any]) -> Any:
    """Run a Keras deserialization; a refusal by safe_mode becomes an _UnsafeError."""
    try:
        return build()
    except Exception as err:
        if "safe_mode" in str(err):
            raise _UnsafeError(str(err)) from None
        raise


class _UnsafeError(ValueError):
    pass


def _check_stored_shapes(path: str, model: Any, stored: Counter[tuple[int, ...]], where: str) -> None:
    """The file's model weights must be exactly the shapes its config builds (else Keras could not load it)."""
    built: Counter[tuple[int, ...]] = Counter(tuple(int(d) for d in v.shape) for v in model.weights)
    if built != stored:
        extra, missing = stored - built, built - stored
        detail = f"stored but not built: {dict(extra)}" if extra else f"built but not stored: {dict(missing)}"
        raise InputError(f"{path}: the weights in {where} do not match the model config ({detail})")


def _with_loaded_model(path: str, options: AuditOptions) -> ModelIR:
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as err:  # noqa: BLE001 - Keras raises many types for unreadable files
        if "safe_mode" in str(err):
            raise InputError(unsafe_message(path, err)) from None
        raise InputError(f"{path}: Keras cannot load this model ({one_line(err)})") from None
    return from_model(model, options)


def unsafe_message(path: str, err: Exception) -> str:
    return (
        f"{path}: the model contains a Lambda layer with Python bytecode; nn-auditor keeps Keras "
        "safe_mode on and will not run it (rebuild the model from its code and audit the factory)"
    )
