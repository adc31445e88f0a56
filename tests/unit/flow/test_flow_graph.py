"""`hotline graph`: the DOT text names every node and branch; SVG/PNG come from Graphviz `dot`.

Graphviz is a required tool of the development setup (scripts/setup installs it): the rendering
tests fail, not skip, when `dot` is missing.
"""

from __future__ import annotations

import argparse
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ivr.cli import flows as flow_cli
from ivr.flow import model as m
from ivr.flow.graph import to_dot
from ivr.flow.loader import References, load_flow

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
HOTLINE = ROOT / "dialplans" / "hotline.yaml"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def flow() -> m.Flow:
    return load_flow(HOTLINE, References(queues=None, departments=None, calendars=None))


def graph(output: Path | None, file: Path = HOTLINE) -> int:
    parser = argparse.ArgumentParser(prog="hotline")
    flow_cli.add_commands(parser.add_subparsers(dest="command"))
    argv = ["graph", str(file)] + (["-o", str(output)] if output is not None else [])
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def require_dot() -> None:
    assert shutil.which("dot"), "Graphviz `dot` is not installed: run scripts/setup"


def test_dot_names_every_node_and_menu_key(flow: m.Flow) -> None:
    text = to_dot(flow)
    assert text.startswith('digraph "hotline" {')
    assert f'"__start" -> "{flow.flow.start}";' in text
    menus = 0
    for node_id, node in flow.nodes.items():
        assert f'  "{node_id}" [shape=' in text, node_id
        if isinstance(node, m.MenuNode):
            menus += 1
            for key, target in node.options.items():
                edge = f'  "{node_id}" -> "{target}" [label="options.{key}"];'
                assert edge in text, edge
        for keypath, target in node.targets():
            assert f'  "{node_id}" -> "{target}" [label="{".".join(keypath)}"];' in text
    assert menus >= 3
    # the fallback node stands out
    fallback = flow.flow.fallback
    assert fallback is not None
    [line] = [ln for ln in text.splitlines() if ln.startswith(f'  "{fallback}" [')]
    assert line.endswith(", style=bold];")


def test_graph_prints_dot_or_writes_a_dot_file(
    tmp_path: Path, flow: m.Flow, capsys: pytest.CaptureFixture[str]
) -> None:
    assert graph(None) == 0
    assert capsys.readouterr().out == to_dot(flow)
    out = tmp_path / "hotline.gv"
    assert graph(out) == 0
    assert out.read_text(encoding="utf-8") == to_dot(flow)


def test_graph_writes_a_valid_svg(tmp_path: Path, flow: m.Flow) -> None:
    require_dot()
    out = tmp_path / "out.svg"
    assert graph(out) == 0
    # our own file, just written by Graphviz
    root = ET.parse(out).getroot()  # noqa: S314
    assert root.tag == f"{SVG}svg"
    titles = {
        title.text
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "node"
        for title in g.iter(f"{SVG}title")
    }
    assert set(flow.nodes) <= titles
    assert "main_menu" in titles
    texts = {t.text for t in root.iter(f"{SVG}text")}
    assert "options.1" in texts


def test_graph_writes_a_png(tmp_path: Path) -> None:
    require_dot()
    out = tmp_path / "out.png"
    assert graph(out) == 0
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_graph_rejects_an_unknown_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.bmpx"
    assert graph(out) == 2
    assert "unknown output format 'bmpx'" in capsys.readouterr().err
    assert not out.exists()


def test_graph_of_an_invalid_file_prints_its_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("flow:\n  id: bad\n   start: x\n", encoding="utf-8")
    assert graph(tmp_path / "out.svg", bad) == 1
    assert capsys.readouterr().err.startswith(f"{bad}:")
    assert not (tmp_path / "out.svg").exists()


def test_graph_without_dot_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert graph(tmp_path / "out.svg") == 1
    assert "Graphviz `dot` is not installed" in capsys.readouterr().err
