"""Errors shared by the corpus readers and the index, in a module free of pandas.

The bridge and the corpus index import these at start-up, which must stay fast.
"""


class InputFileError(Exception):
    """A file the user gave us that cannot be used (missing, unreadable, damaged, of another
    kind or version): one line naming the file, exit code 2."""


class CorpusError(Exception):
    """The corpus cannot be read or the selection leaves nothing to use."""


class CorpusFolderError(CorpusError, InputFileError):
    """The corpus folder given (``--data``) is missing, not a folder, or its metadata cannot
    be read: bad input, exit code 2 (README: exit codes)."""


class CorpusFileError(CorpusError):
    """One file of the corpus is damaged; callers skip it."""


class TouchFileError(CorpusFileError):
    """A touch file that cannot be read; callers skip it."""


class OutputError(Exception):
    """An output file that cannot be written as asked (no folder, no space, ...)."""


class OutputExistsError(OutputError):
    """An output file is already there and ``force`` was not given: it is kept."""
