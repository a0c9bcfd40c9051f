"""Bytes gathered in anonymous memory maps, for bodies of hundreds of MB.

Each block is given back to the OS as soon as it is dropped, so a reader that decodes and drops
them one by one (`client.result`) keeps memory flat; the 64 KB chunks a socket yields, freed
into the heap, would stay in the process's memory.
"""

from __future__ import annotations

import mmap

BLOCK = 4 << 20  # bytes in one block

Piece = bytes | bytearray | mmap.mmap


class Blocks:
    """Append bytes; `take()` gives them back as full blocks and a last, shorter piece."""

    def __init__(self) -> None:
        self._full: list[Piece] = []
        self._block: mmap.mmap | None = None  # the block being filled
        self._used = 0
        self.size = 0

    def add(self, chunk: bytes | bytearray | memoryview, start: int = 0, end: int = -1) -> None:
        """Copy chunk[start:end] (to its end by default) into the blocks."""
        with memoryview(chunk) as view:
            end = len(view) if end < 0 else end
            self.size += end - start
            while start < end:
                if self._block is None:
                    self._block, self._used = mmap.mmap(-1, BLOCK), 0
                count = min(end - start, BLOCK - self._used)
                with view[start : start + count] as part:
                    self._block[self._used : self._used + count] = part
                self._used += count
                start += count
                if self._used == BLOCK:
                    self._full.append(self._block)
                    self._block = None

    def take(self) -> list[Piece]:
        """Everything added, in order; the blocks are empty again."""
        pieces = self._full
        if self._block is not None:  # the last block, filled in part: as bytes
            pieces.append(self._block[: self._used])
            self._block.close()
        self._full, self._block, self.size = [], None, 0
        return pieces
