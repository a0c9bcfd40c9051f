"""Saving many outputs under few or many names (`paths.unique_file`): time and file-system
probes (existence checks and exclusive opens), next to the floor of creating as many files
under distinct names with plain ``open("xb")``.

    python bench/bench_names.py            # the three cases of issue 19 (60k, 50k, evicted)

Probes per file stay below ~20 in every case when no name is searched suffix by suffix; the
time stays within ~2x the floor. "evicted" shrinks the name memory to 64 and interleaves each
save of 50 busy names with 100 others, so every busy name is forgotten before it comes back:
found again by trying each suffix, that is quadratic.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from viewcomfy_ui import paths


@contextmanager
def counted() -> Iterator[list[int]]:
    """Counts `os.path.lexists` calls and `Path.open` calls while inside."""
    count = [0]
    lexists, path_open = os.path.lexists, Path.open

    def counting_lexists(path):
        count[0] += 1
        return lexists(path)

    def counting_open(self, *args, **kwargs):
        count[0] += 1
        return path_open(self, *args, **kwargs)

    os.path.lexists, Path.open = counting_lexists, counting_open
    try:
        yield count
    finally:
        os.path.lexists, Path.open = lexists, path_open


def save_all(names: list[str]) -> tuple[float, int, int]:
    """Seconds, probes and files for saving one file per entry of `names` into a new folder."""
    with tempfile.TemporaryDirectory() as folder, counted() as probes:
        directory = Path(folder)
        started = time.perf_counter()
        for name in names:
            path, handle = paths.unique_file(directory, name)
            with handle:
                handle.write(path.name.encode())
        seconds = time.perf_counter() - started
        files = len(os.listdir(directory))
    paths._next_suffix.clear()
    return seconds, probes[0], files


def floor(count: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        for i in range(count):
            with open(os.path.join(folder, f"plain_{i}.png"), "xb") as handle:
                handle.write(b"x")
        return time.perf_counter() - started


def evicted(busy: int = 50, rounds: int = 400, others: int = 100) -> list[str]:
    names = []
    for r in range(rounds):
        names += [f"busy_{b}.png" for b in range(busy)]
        names += [f"other_{r}_{o}.png" for o in range(others)]
    return names


def main() -> None:
    cases = {
        "60,000 over 20,000 names": [f"ComfyUI_{i % 20_000:05d}_.png" for i in range(60_000)],
        "50,000 of one name": ["ComfyUI_00001_.png"] * 50_000,
    }
    print(f"{'case':<34}{'files':>8}{'seconds':>10}{'floor s':>9}{'probes/file':>13}")
    for label, names in cases.items():
        seconds, probes, files = save_all(names)
        print(
            f"{label:<34}{files:>8}{seconds:>10.1f}{floor(len(names)):>9.1f}{probes / files:>13.1f}"
        )
    remembered, paths._MAX_REMEMBERED = paths._MAX_REMEMBERED, 64
    try:
        names = evicted()
        seconds, probes, files = save_all(names)
        label = "evicted (memory 64, 50 busy)"
        print(
            f"{label:<34}{files:>8}{seconds:>10.1f}{floor(len(names)):>9.1f}{probes / files:>13.1f}"
        )
    finally:
        paths._MAX_REMEMBERED = remembered


if __name__ == "__main__":
    main()
