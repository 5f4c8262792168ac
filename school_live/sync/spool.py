"""Rows downloaded from WeCom, kept off the heap until the store reads them back.

A 100,000-row living held as records in a dict (with their keys) took ~45 MiB of a worker's
heap; the same rows pickled page by page take a few MiB of a temporary file, and the store reads
them back one page at a time, so a worker's memory does not grow with the size of a living.
"""

import pickle  # noqa: S403 - the file is written by this process, moments before it is read
import tempfile
from collections.abc import Iterator

# Small livings never touch the disk.
IN_MEMORY = 1 << 20


class RowSpool:
    """Append-only pages of plain tuples, read back in the order they were written."""

    def __init__(self) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115 - closed by close()
        self.written = 0  # rows appended, a row repeated on a later page counted twice

    def extend(self, rows: list[tuple]) -> None:
        if rows:
            pickle.dump(rows, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self.written += len(rows)

    def __iter__(self) -> Iterator[tuple]:
        self._file.seek(0)
        while True:
            try:
                # An anonymous temporary file of this process: nothing else writes it.
                page = pickle.load(self._file)  # noqa: S301
            except EOFError:
                return
            yield from page

    def close(self) -> None:
        self._file.close()
