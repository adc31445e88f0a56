"""Hostile and careless edits of config.yaml, generated: the shipped file mutated by bytes and
lines (seeded, so every run tries the same files). Each mutant loads or is refused with
`file:line: key: message` errors — never a traceback, never a value echoed back at length — and
what the refusals begin with is counted for the closing note."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import pytest

from ivr.config import load_config
from ivr.errors import ConfigError
from tests.support.mutations import mutate

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config.yaml"
MUTANTS = 150
# an error line quoted back is kept short (ivr.yamltext cuts values at 40 characters)
LONGEST_LINE = 400


def test_mutated_configs_are_loaded_or_refused_with_file_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    line = re.compile(re.escape(str(path)) + r":(\d+): (.*)")
    rnd = random.Random(9)
    found: Counter[str] = Counter()
    shipped = SHIPPED.read_bytes()
    for _ in range(MUTANTS):
        raw = shipped
        for _ in range(rnd.randint(1, 3)):
            raw = mutate(rnd, raw)
        path.write_bytes(raw)
        try:
            load_config(path, env={})
        except ConfigError as exc:
            problems = str(exc).splitlines()
            for problem in problems:
                match = line.match(problem)
                assert match, problem
                assert len(problem) < LONGEST_LINE, problem
                assert 1 <= int(match[1]) <= raw.count(b"\n") + 1, problem
            first = line.match(problems[0])
            assert first is not None
            found[" ".join(first[2].split()[:2])] += 1
        else:
            found["(accepted)"] += 1
    # the closing note quotes these: what the first error of each mutant began with
    print(found.most_common())
    assert sum(n for kind, n in found.items() if kind != "(accepted)") > MUTANTS // 2
