"""Where the engine's CPU time goes, from a py-spy raw profile (`bench/load.py --profile FILE`).

py-spy samples only threads that are running (idle waits in epoll are left out), so the shares
are of the engine's CPU time. Each sample is charged to one area: the innermost frame that is
our own code (ivr.<package>, routing) decides it when the stack passes through the database
layers (SQLAlchemy, aiosqlite, sqlite3: "database"), the REST/WebSocket client (aiohttp, our
ivr.ari: "ARI client"), pydantic or the flow/session code; samples with none of ours are charged
to the innermost library (asyncio's loop itself, logging, ...).

    .venv/bin/python bench/profile_summary.py profile.txt
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

# a frame reads "function (path/to/file.py:123)"
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^:()]+)(?::\d+)?\)$")

# areas by library, tested from the innermost frame outwards
_LIBRARIES = (
    ("database", ("sqlalchemy/", "aiosqlite/", "sqlite3/", "asyncpg/", "alembic/")),
    ("ARI client (aiohttp)", ("aiohttp/", "yarl/", "multidict/")),
    ("pydantic", ("pydantic/", "pydantic_core/")),
    ("json", ("json/",)),
    ("logging", ("logging/",)),
    ("asyncio loop", ("asyncio/", "selectors.py")),
)


def module_of(path: str) -> str | None:
    """`ivr.store`, `routing`, ... for our files, else None."""
    match = re.search(r"(?:^|/)(ivr|routing)/(?:([a-z_]+)/)?", path)
    if match is None:
        return None
    top, sub = match.group(1), match.group(2)
    return f"{top}.{sub}" if top == "ivr" and sub else top


def area(frames: list[str]) -> tuple[str, str]:
    """(area, our innermost module) of one stack, outermost frame first."""
    files = [m.group("file") for f in frames if (m := _FRAME.match(f.strip()))]
    ours = next((mod for f in reversed(files) if (mod := module_of(f))), "-")
    for name, markers in _LIBRARIES:
        if any(any(mark in f for mark in markers) for f in files[-12:]):
            if name == "asyncio loop" and ours != "-":
                break
            return name, ours
    if ours == "-":
        return (files[-1].rsplit("/", 1)[-1] if files else "?"), ours
    return ours, ours


def summarise(path: Path) -> tuple[Counter[str], Counter[str], int]:
    areas: Counter[str] = Counter()
    modules: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        where, ours = area(stack.split(";"))
        areas[where] += n
        modules[ours] += n
        total += n
    return areas, modules, total


def main(argv: list[str]) -> int:
    areas, modules, total = summarise(Path(argv[1]))
    print(f"{total} samples of running engine threads")
    print("by area (libraries the stack ends in, else our innermost module):")
    for name, n in areas.most_common(15):
        print(f"  {100 * n / total:5.1f} %  {name}")
    print("by our innermost module on the stack (inclusive of the libraries it calls):")
    for name, n in modules.most_common(15):
        print(f"  {100 * n / total:5.1f} %  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
