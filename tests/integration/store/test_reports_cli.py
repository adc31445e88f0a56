"""`hotline report` and `hotline staffing` on the hand-computed day (tests/integration/store/
test_reports.py), on SQLite and PostgreSQL: what a supervisor gets in a file or on the screen."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pytest
import yaml

from ivr.cli import main
from ivr.store.db import open_engine
from tests.integration.store.test_reports import write_day

pytestmark = pytest.mark.integration


def config_file(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": db_url}}), encoding="utf-8")
    return path


def the_day_in(db_url: str) -> None:
    async def write() -> None:
        engine = open_engine(db_url)
        try:
            await write_day(engine)
        finally:
            await engine.dispose()

    asyncio.run(write())


def report(config: Path, out: Path, *extra: str) -> str:
    args = ["--config", str(config), "report", "--from", "2027-03-15", "--to", "2027-03-15"]
    assert main([*args, *extra, "-o", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def test_the_report_as_json_csv_and_html(db_url: str, tmp_path: Path) -> None:
    the_day_in(db_url)
    config = config_file(tmp_path, db_url)
    data = json.loads(report(config, tmp_path / "r.json", "--format", "json"))
    total = data["total"]
    assert (total["offered"], total["answered"], total["abandoned"]) == (7, 3, 2)
    assert total["short_abandons"] == 1
    assert total["service_level"] == pytest.approx(0.2)
    assert data["headline_service_level"] == "abandons_against"
    assert data["formulas"]["sl_abandons_against"].endswith("A_T / (A + B)")
    callers = [a["caller"] for a in data["abandoned_calls"]]
    assert callers == ["+81935550101", "+81935550102", "+81935550103"]

    rows = list(csv.reader(io.StringIO(report(config, tmp_path / "r.csv", "--interval", "60"))))
    assert rows[0] == ["# intervals"]
    header = rows[1]
    ten = next(r for r in rows if r[:2] == ["2027-03-15 10:00", "general"])
    assert ten[header.index("offered")] == "2"
    assert ten[header.index("answered_within")] == "1"
    assert ["# abandoned calls"] in rows

    page = report(config, tmp_path / "r.html", "--format", "html")
    assert "<svg" in page
    assert "A_T / (A + B − B_T)" in page
    assert "Supervisor only" in page
    assert "+81935550101" in page


def test_no_callers_leaves_the_numbers_out(db_url: str, tmp_path: Path) -> None:
    the_day_in(db_url)
    config = config_file(tmp_path, db_url)
    data = json.loads(report(config, tmp_path / "r.json", "--format", "json", "--no-callers"))
    assert len(data["abandoned_calls"]) == 3
    assert all("caller" not in a for a in data["abandoned_calls"])
    page = report(config, tmp_path / "r.html", "--format", "html", "--no-callers")
    assert "+8193555" not in page


def test_staffing_from_the_measured_day(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    the_day_in(db_url)
    config = config_file(tmp_path, db_url)
    args = ["--config", str(config), "staffing", "--from", "2027-03-15", "--to", "2027-03-15"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    # 10:00 had two answered calls: (180 + 30 wrap-up) and (120 + 20): AHT 175 s
    ten = next(line for line in lines if line.startswith("10:00"))
    assert ten.split()[1:3] == ["2.0", "175"]
    # 11:00 answered nobody: no handle time to plan with
    assert not any(line.startswith("11:00") for line in lines)
    # the formulas under the figures
    assert "# Erlang C ASA: ASA = Pw · AHT / (N − A)" in lines
    assert "# seats after shrinkage: ⌈N / (1 − shrinkage)⌉" in lines


def test_a_queue_without_calls_is_said_so(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    the_day_in(db_url)
    config = config_file(tmp_path, db_url)
    data = json.loads(report(config, tmp_path / "r.json", "--format", "json", "--queue", "genral"))
    assert data["total"]["offered"] == 0
    assert "no calls in queue 'genral' in the period" in capsys.readouterr().err
    data = json.loads(report(config, tmp_path / "g.json", "--format", "json", "--queue", "general"))
    assert data["total"]["offered"] == 7
    assert data["calls"]["callbacks_requested"] == 2
    assert capsys.readouterr().err == ""
