"""Named errors that the CLI reports as one clear line instead of a traceback."""


class SegrecError(RuntimeError):
    """An error about the input data or the environment, with a message naming what is wrong."""


class InputDataError(SegrecError):
    """A landing file or folder is missing, empty, or does not match its source contract."""


class SchemaMismatchError(InputDataError):
    """A delivery lacks a required column or has a column of a different type."""


class MissingTableError(SegrecError):
    """A stage needs a table that an earlier stage has not written yet."""
