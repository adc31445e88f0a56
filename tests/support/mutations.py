"""Seeded mutations of a YAML file the way a broken editor, a bad paste or an attacker would
make them: bytes and lines inserted, cut, repeated, swapped, re-indented. The generated hostile
suites of the flows (tests/unit/flow/test_flow_hostile.py) and of config.yaml
(tests/unit/test_config_hostile.py) both use them."""

from __future__ import annotations

import random

# what editors, pastes and attackers put into a file
HOSTILE = [
    b"\xff",
    b"\xe9",
    b"\x00",
    b"\t",
    b"\r",
    b"\xef\xbb\xbf",
    b"*a",
    b"&a ",
    b"!!python/object:os.system",
    b"!x ",
    b"[" * 80,
    b"{" * 80,
    b"x" * 3000,
    b": ",
    b"- ",
    b"'",
    b'"',
    b"#",
    b"|",
    b">",
    b"? ",
    b"%YAML 1.1\n",
    b"---\n",
    b"...\n",
    "水道".encode(),
    "é".encode("latin-1"),
    b"<<: *a\n",
]


def mutate(rnd: random.Random, raw: bytes) -> bytes:
    """`raw` with one mutation chosen by `rnd`."""
    lines = raw.split(b"\n")
    i = rnd.randrange(len(lines))
    j = rnd.randrange(len(raw) + 1)
    choice = rnd.randrange(7)
    if choice == 0:
        return raw[:j] + rnd.choice(HOSTILE) + raw[j:]
    if choice == 1:
        return raw[:j] + raw[j + rnd.randint(1, 40) :]
    if choice == 2:
        return b"\n".join(lines[:i] + lines[i + 1 :])
    if choice == 3:
        return b"\n".join(lines[:i] + [lines[i]] * rnd.randint(2, 5) + lines[i:])
    if choice == 4:
        k = rnd.randrange(len(lines))
        lines[i], lines[k] = lines[k], lines[i]
        return b"\n".join(lines)
    if choice == 5:
        return b"\n".join(
            lines[:i] + [b" " * rnd.randint(0, 9) + lines[i].lstrip()] + lines[i + 1 :]
        )
    return raw[:j] + bytes([rnd.randrange(256)]) + raw[j + 1 :]
