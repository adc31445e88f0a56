from pathlib import Path

import pytest

from ivr.calls.flows import references_from
from ivr.config import load_config
from ivr.errors import FlowError
from ivr.flow.catalog import load_catalog
from ivr.flow.loader import BUILTIN_PROMPTS, check_files, load_flow, parse_flow
from ivr.flow.model import MenuNode, SetNode
from ivr.flow.say import all_say_prompt_ids
from ivr.flow.schema import flow_schema

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
DATA = Path(__file__).parent / "data"
CATALOG = load_catalog(ROOT / "prompts" / "catalog.yaml")
# what the shipped config.yaml lets a flow name
REFS = references_from(load_config(ROOT / "config.yaml", env={}), CATALOG)


def errors_of(name: str) -> list[str]:
    errors = check_files([DATA / name], REFS)
    prefix = f"{DATA / name}:"
    assert all(e.startswith(prefix) for e in errors)
    return [e.removeprefix(prefix) for e in errors]


@pytest.mark.parametrize("path", sorted((ROOT / "dialplans").glob("*.yaml")), ids=str)
def test_every_dialplan_passes_check(path: Path) -> None:
    assert check_files([path], REFS) == []


def test_catalog_has_builtin_and_say_prompts() -> None:
    missing = (set(BUILTIN_PROMPTS) | all_say_prompt_ids()) - set(CATALOG)
    assert not missing


def test_menu_keys_written_as_yaml_ints_are_accepted() -> None:
    flow = load_flow(DATA / "int_keys.yaml", REFS)
    menu = flow.nodes["menu"]
    assert isinstance(menu, MenuNode)
    assert set(menu.options) == {"1", "2"}


def test_menu_keys_that_are_not_one_dtmf_key() -> None:
    assert errors_of("bad_keys.yaml") == [
        "11: node 'menu', options.12: option key '12' is not a single key 0-9, * or #",
        "12: node 'menu', options.yes: option key 'yes' is not a single key 0-9, * or #",
    ]


def test_wrong_keys_and_kinds_are_all_reported() -> None:
    errors = errors_of("wrong_key.yaml")
    assert errors[:3] == [
        "6: node 'menu': missing key 'prompts'",
        "8: node 'menu': unknown key 'prompt'",
        "10: node 'menu': unknown key 'timeout'",
    ]
    assert errors[3].startswith("14: node 'odd': unknown node kind (expected one of play, menu")


def test_unknown_target_prompt_and_queue() -> None:
    assert errors_of("unknown_target.yaml") == [
        "8: unknown prompt 'no-such-prompt'",
        "11: node 'menu' goes to unknown node 'byee'",
        "14: unknown queue 'nowhere' (known: billing, general, moving, reconnection)",
    ]


def test_bad_indentation_is_a_yaml_error_with_line() -> None:
    (error,) = errors_of("bad_indent.yaml")
    assert error.startswith("9: YAML syntax error")


def test_graph_problems() -> None:
    errors = errors_of("graph_problems.yaml")
    assert "6: loop that never waits for the caller: first -> second -> first" in errors
    assert "13: node 'orphan' is unreachable from start" in errors
    assert any(e.startswith("6: node 'first' is a dead end") for e in errors)


def test_scalars_stay_strings() -> None:
    flow = parse_flow(
        """
flow: {id: s, start: a, fallback: b}
nodes:
  a: {kind: set, values: {code: 0123, answer: no}, next: b}
  b: {kind: hangup}
""",
        "s.yaml",
    )
    node = flow.nodes["a"]
    assert isinstance(node, SetNode)
    assert node.values == {"code": "0123", "answer": "no"}


def test_duplicate_keys_are_errors() -> None:
    with pytest.raises(FlowError) as info:
        parse_flow("flow: {id: d, start: a, fallback: a}\nflow: {}\nnodes: {}\n", "d.yaml")
    assert info.value.errors == ["d.yaml:2: duplicate key 'flow'"]


def test_schema_names_every_node_kind() -> None:
    schema = flow_schema()
    assert "MenuNode" in schema["$defs"]
    assert schema["title"] == "Suido Hotline dialplan"
