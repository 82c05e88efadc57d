"""The one error type users see: bad input, said in one line (the CLI exits 2 with it)."""


class InputError(Exception):
    """The model, file or table cannot be read; the message names it and says what is wrong."""
