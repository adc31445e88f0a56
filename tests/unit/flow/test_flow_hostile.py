"""Hostile and careless flow files: every one gets a `file:line` error (or loads), none raises,
none makes the loader build something huge, and no error repeats a huge value back.

The generated part mutates a real flow (seeded, so every run tries the same files) by bytes and
by lines the way a broken editor, a bad paste or an attacker would, and counts what it found."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import pytest

from ivr.calls.flows import references_from
from ivr.config import load_config
from ivr.errors import FlowError
from ivr.flow.catalog import load_catalog
from ivr.flow.loader import _cycles, check_files, load_flows, parse_flow
from ivr.yamltext import MAX_BYTES, SHOWN_CHARS, parse_yaml_bytes
from tests.support.mutations import mutate

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CATALOG = load_catalog(ROOT / "prompts" / "catalog.yaml")
REFS = references_from(load_config(ROOT / "config.yaml", env={}), CATALOG)
HEAD = "flow: {id: s, start: a, fallback: b}\nnodes:\n"
END = "  b: {kind: hangup}\n"


def errors(text: str) -> list[str]:
    with pytest.raises(FlowError) as info:
        parse_flow(text, "f.yaml", REFS)
    return info.value.errors


def bytes_errors(raw: bytes) -> list[str]:
    return parse_yaml_bytes(raw, "f.yaml").errors


# --- files that are not plain YAML text ------------------------------------------------------


def test_latin1_is_not_utf8_with_the_line_and_byte() -> None:
    raw = (HEAD + "  # caf\xe9\n" + END).encode("latin-1")
    assert bytes_errors(raw) == [
        f"f.yaml:3: not UTF-8 at byte {raw.index(0xE9)} (save the file as UTF-8)"
    ]


def test_a_utf8_bom_is_accepted() -> None:
    assert parse_yaml_bytes(("\ufeff" + HEAD + END).encode(), "f.yaml").errors == []


def test_a_nul_mid_file_is_reported_at_its_line() -> None:
    assert bytes_errors((HEAD + END + "  c: x\0y\n").encode()) == [
        "f.yaml:4: U+0000 is not allowed in a YAML file"
    ]


def test_a_file_larger_than_the_limit_is_refused_unread() -> None:
    raw = (HEAD + END).encode() + b"#" * MAX_BYTES
    assert bytes_errors(raw) == [f"f.yaml:1: the file is larger than {MAX_BYTES:,} bytes"]


def test_billion_laughs_is_refused_before_it_expands() -> None:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    text = "\n".join(lines) + "\n"
    assert len(text) < 1024
    [error] = bytes_errors(text.encode())
    # 9 ** 5 values by the fifth line
    assert (
        error
        == "f.yaml:5: the file expands to more than 50,000 values (aliases repeating aliases?)"
    )


def test_a_few_aliases_are_fine() -> None:
    text = (
        HEAD
        + "  a: {kind: play, prompts: &p [welcome], next: c}\n"
        + "  c: {kind: play, prompts: *p, next: b}\n"
        + END
    )
    assert parse_flow(text, "f.yaml", REFS).nodes["c"].prompts == ["welcome"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &a [*a]\n", "f.yaml:1: alias '*a' refers to the value it is part of"),
        ("a: &a {b: *a}\n", "f.yaml:1: alias '*a' refers to the value it is part of"),
        ("a: *nowhere\n", "f.yaml:1: unknown alias '*nowhere'"),
        ("a: " + "[" * 500 + "]" * 500 + "\n", "f.yaml:1: nested deeper than 32 levels"),
        (
            "a:\n" + "".join("  " * i + "b:\n" for i in range(1, 600)),
            "f.yaml:33: nested deeper than 32 levels",
        ),
        (
            "a: !!python/object/apply:os.system [echo]\n",
            "f.yaml:1: YAML tags such as '!!python/object/apply:os.system' are not allowed",
        ),
        ("a: !!str 1\n", "f.yaml:1: YAML tags such as '!!str' are not allowed"),
        ("a: !local x\n", "f.yaml:1: YAML tags such as '!local' are not allowed"),
    ],
    ids=[
        "alias-loop",
        "alias-loop-in-map",
        "unknown-alias",
        "deep-flow",
        "deep-block",
        "python-tag",
        "str-tag",
        "local-tag",
    ],
)
def test_documents_that_must_not_be_built(text: str, message: str) -> None:
    assert bytes_errors(text.encode()) == [message]


# --- flows that can never work, and messages that pointed at the wrong thing ------------------


def test_collect_min_len_above_max_len() -> None:
    assert errors(
        HEAD
        + "  a: {kind: collect, into: x, prompts: [welcome], min_len: 9, max_len: 3, next: b}\n"
        + END
    ) == ["f.yaml:3: node 'a': min_len 9 is more than max_len 3"]


@pytest.mark.parametrize(
    ("validator", "lengths", "takes"),
    [
        ("date", "max_len: 6", "8"),
        ("date", "min_len: 9", "8"),
        ("customer_number", "max_len: 8", "10"),
        ("phone", "max_len: 9", "10-11"),
    ],
)
def test_collect_lengths_a_validator_can_never_accept(
    validator: str, lengths: str, takes: str
) -> None:
    [error] = errors(
        HEAD
        + "  a: {kind: collect, into: x, prompts: [welcome], "
        + f"validator: {validator}, {lengths}, next: b}}\n"
        + END
    )
    assert error.startswith(
        f"f.yaml:3: node 'a': validator {validator} takes {takes} keys, but min_len-max_len is"
    )


def test_collect_lengths_a_validator_accepts() -> None:
    text = (
        HEAD
        + "  a: {kind: collect, into: x, prompts: [welcome], validator: date,"
        + " min_len: 8, max_len: 8, next: b}\n"
        + END
    )
    assert parse_flow(text, "f.yaml", REFS).nodes["a"].kind == "collect"


def test_errors_on_a_queue_nodes_fields_name_those_fields_lines() -> None:
    text = (
        HEAD
        + "  a:\n    kind: queue\n    queue: general\n    priority: 99\n    max_wait_s: -1\n"
        + END
    )
    assert errors(text) == [
        "f.yaml:6: node 'a', priority: Input should be less than or equal to 9",
        "f.yaml:7: node 'a', max_wait_s: Input should be greater than 0",
    ]


def test_a_bad_prompt_id_is_one_error_that_says_what_a_prompt_id_is() -> None:
    assert errors(HEAD + "  a: {kind: play, prompts: [bad_prompt], next: b}\n" + END) == [
        "f.yaml:3: node 'a', prompts.0: 'bad_prompt' is not valid "
        "(a prompt id is lowercase letters, digits and -)"
    ]


def test_a_bad_node_id_names_the_node_id() -> None:
    assert errors(HEAD + "  Bad-Node: {kind: hangup}\n  a: {kind: hangup}\n" + END) == [
        "f.yaml:3: node id 'Bad-Node' is not valid "
        "(a name is lowercase letters, digits and _, starting with a letter)"
    ]


def test_a_huge_value_is_not_echoed_back_whole() -> None:
    [error] = errors(
        HEAD + "  a: {kind: play, prompts: [" + "x" * 5_000_000 + "], next: b}\n" + END
    )
    assert error == f"f.yaml:3: unknown prompt '{'x' * SHOWN_CHARS}'... (5,000,000 characters)"


def test_a_thousand_chained_nodes_load() -> None:
    chain = "".join(
        f"  n{i}: {{kind: play, prompts: [welcome], next: n{i + 1}}}\n" for i in range(1500)
    )
    text = HEAD + chain + "  n1500: {kind: hangup}\n  a: {kind: goto, target: n0}\n" + END
    assert len(parse_flow(text, "f.yaml", REFS).nodes) == 1503


def test_a_thousand_chained_nodes_in_a_quiet_loop_are_found() -> None:
    chain = "".join(
        f"  n{i}: {{kind: play, prompts: [welcome], next: n{i + 1}}}\n" for i in range(1500)
    )
    text = (
        HEAD
        + "  a: {kind: goto, target: n0}\n"
        + chain
        + "  n1500: {kind: goto, target: n0}\n"
        + END
    )
    assert any("loop that never waits for the caller: n0 -> n1 -> " in e for e in errors(text))


def _subflow_file(tmp_path: Path, flow_id: str, calls: str) -> Path:
    path = tmp_path / f"{flow_id}.yaml"
    path.write_text(
        f"flow: {{id: {flow_id}, start: a, fallback: b}}\nnodes:\n"
        f"  a: {{kind: subflow, flow: {calls}, next: b}}\n  b: {{kind: hangup}}\n",
        encoding="utf-8",
    )
    return path


def test_subflows_that_call_each_other_are_an_error(tmp_path: Path) -> None:
    paths = [_subflow_file(tmp_path, "one", "two"), _subflow_file(tmp_path, "two", "one")]
    [error] = check_files(paths, REFS)
    assert error.startswith(f"{paths[0]}:3: subflows call each other in a loop (")
    assert "one -> two" in error or "two -> one" in error


def test_a_subflow_that_calls_itself_is_an_error(tmp_path: Path) -> None:
    path = _subflow_file(tmp_path, "one", "one")
    assert check_files([path], REFS) == [
        f"{path}:3: subflows call each other in a loop (one -> one): a call would never come back"
    ]


def test_subflows_without_a_loop_load(tmp_path: Path) -> None:
    _subflow_file(tmp_path, "one", "two")
    (tmp_path / "two.yaml").write_text(
        "flow: {id: two, start: a, fallback: a}\nnodes:\n  a: {kind: return}\n", encoding="utf-8"
    )
    assert set(load_flows(sorted(tmp_path.glob("*.yaml")), REFS)) == {"one", "two"}


def _components_brute_force(edges: dict[str, list[str]]) -> set[frozenset[str]]:
    def reach(start: str) -> set[str]:
        seen, todo = set(), [w for w in edges[start] if w in edges]
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(w for w in edges[n] if w in edges)
        return seen

    reached = {n: reach(n) for n in edges}
    return {
        frozenset({m for m in edges if m in reached[n] and n in reached[m]})
        for n in edges
        if n in reached[n]
    }


@pytest.mark.parametrize("seed", range(200))
def test_the_iterative_cycle_search_finds_what_brute_force_finds(seed: int) -> None:
    rnd = random.Random(seed)
    nodes = [f"n{i}" for i in range(rnd.randint(1, 12))]
    edges = {
        n: rnd.sample([*nodes, "outside"], min(rnd.randint(0, 3), len(nodes) + 1)) for n in nodes
    }
    found = _cycles(edges)
    assert {frozenset(c) for c in found} == _components_brute_force(edges)
    assert len(found) == len({frozenset(c) for c in found})


# --- generated: mutants of a real flow ----------------------------------------------------------

# (the flow, how many mutants): the small shipped flow often, the large one a few times (each
# of its loads takes ~0.1 s)
SEEDS = [(ROOT / "dialplans" / "emergency.yaml", 200), (ROOT / "dialplans" / "hotline.yaml", 40)]


@pytest.mark.parametrize(("seed", "mutants"), SEEDS, ids=lambda v: getattr(v, "name", str(v)))
def test_mutated_flows_give_file_line_errors_and_never_raise(
    tmp_path: Path, seed: Path, mutants: int
) -> None:
    assert check_files([seed], REFS) == []
    rnd = random.Random(12)
    path = tmp_path / seed.name
    line = re.compile(re.escape(str(path)) + r":(\d+): (\S+ \S+)")
    found: Counter[str] = Counter()
    for _ in range(mutants):
        raw = seed.read_bytes()
        for _ in range(rnd.randint(1, 3)):
            raw = mutate(rnd, raw)
        path.write_bytes(raw)
        problems = check_files([path], REFS)
        for problem in problems:
            match = line.match(problem)
            assert match, problem
            assert len(problem) < 400, problem
            assert 1 <= int(match[1]) <= raw.count(b"\n") + 1, problem
        found[line.match(problems[0])[2] if problems else "(accepted)"] += 1  # type: ignore[index]
    # the closing note quotes these: what the first error of each mutant began with
    print(seed.name, found.most_common())
    assert sum(n for kind, n in found.items() if kind != "(accepted)") > mutants // 2
