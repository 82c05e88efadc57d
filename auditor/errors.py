"""The one error type users see: bad input, said in one line (the CLI exits 2 with it)."""


class InputError(Exception):
    """The model, file or table cannot be read; the message names it and says what is wrong."""


def one_line(err: Exception, limit: int = 160) -> str:
    """An exception as "Type: message" on one line, its message cut to `limit` characters (for InputError texts)."""
    text = " ".join(str(err).split())
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def not_installed(err: ImportError, wanted: str) -> InputError:
    """The InputError for a reader whose framework (`err.name`, else `wanted`) cannot be imported."""
    return InputError(f"reading this model needs {err.name or wanted}, which is not installed")
