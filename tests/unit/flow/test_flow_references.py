"""What a flow may name comes from the configuration: an admin adds a queue, a department or a
calendar in config.yaml and `hotline check`, the engine's flow registry and its reloads know it;
one the config lacks is rejected everywhere, with `file:line`. An `intake` node's fields are
judged by the intake service's own rules."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from ivr.app import flow_registry
from ivr.calls.flows import FlowRegistry
from ivr.cli import main
from ivr.config import AppConfig, load_config
from ivr.errors import FlowError
from ivr.flow.model import TransferNode
from ivr.store.db import open_engine
from ivr.store.departments import Department, DepartmentBook, config_departments
from tests.support.console import copy_database, make_template

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CATALOG = ROOT / "prompts" / "catalog.yaml"
T0 = datetime(2027, 2, 10, 3, 0, tzinfo=UTC)

WATER_FLOW = """\
flow:
  id: water
  start: hello
  fallback: bye
nodes:
  hello:
    kind: hours
    calendar: {calendar}
    open: water
    closed: bye
  water:
    kind: queue
    queue: water_quality
    on_overflow: bye
    on_closed: bye
  bye:
    kind: hangup
    prompts: [thank-you-goodbye]
"""

STOP_FLOW = """\
flow:
  id: stop
  start: date
  fallback: bye
nodes:
  date:
    kind: collect
    prompts: [welcome]
    into: stop_date
    validator: date
    next: request
  request:
    kind: intake
    request: stop
    fields:
{fields}
    on_created: bye
    on_rejected: bye
  bye:
    kind: hangup
    prompts: [thank-you-goodbye]
"""


def shipped() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def with_water_quality(data: dict[str, Any]) -> None:
    data["routing"]["queues"]["water_quality"] = {
        "calendar": "phone",
        "max_wait_s": 900,
        "average_handle_s": 300,
    }


def site(
    tmp_path: Path, flows: dict[str, str], edit: Callable[[dict[str, Any]], None] | None = None
) -> Path:
    """A config file (the shipped one, edited) whose flows.dir holds `flows`; returns its path."""
    dialplans = tmp_path / "dialplans"
    dialplans.mkdir(exist_ok=True)
    for name, text in flows.items():
        (dialplans / name).write_text(text, encoding="utf-8")
    data = shipped()
    data["flows"] = {"dir": str(dialplans), "catalog": str(CATALOG)}
    if edit is not None:
        edit(data)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def config_of(path: Path) -> AppConfig:
    return load_config(path, env={})


def check(config: Path, capsys: pytest.CaptureFixture[str], *files: str) -> tuple[int, str]:
    code = main(["--config", str(config), "check", *files])
    out = capsys.readouterr()
    return code, out.out + out.err


def line_of(path: Path, text: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


# --- an admin adds a queue or a calendar ----------------------------------------------------


def test_a_queue_added_in_config_passes_check_and_loads_in_the_registry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site(tmp_path, {"water.yaml": WATER_FLOW.format(calendar="phone")}, with_water_quality)
    assert check(config, capsys) == (0, "ok: 1 file(s)\n")
    registry = flow_registry(config_of(config), tmp_path)
    assert registry.live("water").flow.nodes["water"].kind == "queue"


def test_the_same_flow_without_the_queue_in_config_is_rejected_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site(tmp_path, {"water.yaml": WATER_FLOW.format(calendar="phone")})
    flow = tmp_path / "dialplans" / "water.yaml"
    code, out = check(config, capsys)
    assert code == 1
    line = line_of(flow, "queue: water_quality")
    assert (
        f"{flow}:{line}: unknown queue 'water_quality' "
        "(known: billing, general, moving, reconnection)" in out
    )


def test_a_calendar_config_defines_may_be_used_by_an_hours_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # config.yaml ships `construction` (the construction department's hours)
    config = site(
        tmp_path, {"water.yaml": WATER_FLOW.format(calendar="construction")}, with_water_quality
    )
    assert check(config, capsys)[0] == 0
    assert "water" in flow_registry(config_of(config), tmp_path).library()


# --- an admin removes what a flow uses ------------------------------------------------------


def without_moving(data: dict[str, Any]) -> None:
    del data["routing"]["queues"]["moving"]


def shipped_flows() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "dialplans").glob("*.yaml")}


def test_removing_a_queue_the_flows_use_is_caught_by_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site(tmp_path, shipped_flows(), without_moving)
    flow = tmp_path / "dialplans" / "hotline.yaml"
    code, out = check(config, capsys)
    assert code == 1
    line = line_of(flow, "queue: moving")
    assert f"{flow}:{line}: unknown queue 'moving' (known: billing, general, reconnection)" in out


def test_removing_a_queue_the_flows_use_stops_the_engine_from_starting(tmp_path: Path) -> None:
    config = site(tmp_path, shipped_flows(), without_moving)
    with pytest.raises(FlowError) as caught:
        flow_registry(config_of(config), tmp_path)  # what `hotline run` loads before anything
    flow = tmp_path / "dialplans" / "hotline.yaml"
    assert f"{flow}:{line_of(flow, 'queue: moving')}: unknown queue 'moving'" in "\n".join(
        caught.value.errors
    )


def test_removing_a_calendar_a_flow_uses_is_caught_by_check_and_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def without_construction(data: dict[str, Any]) -> None:
        with_water_quality(data)
        del data["routing"]["calendars"]["construction"]
        del data["routing"]["departments"]["construction"]["calendar"]

    config = site(
        tmp_path, {"water.yaml": WATER_FLOW.format(calendar="construction")}, without_construction
    )
    flow = tmp_path / "dialplans" / "water.yaml"
    expected = (
        f"{flow}:{line_of(flow, 'calendar: construction')}: unknown calendar 'construction' "
        "(known: emergency, phone)"
    )
    code, out = check(config, capsys)
    assert code == 1
    assert expected in out
    with pytest.raises(FlowError) as caught:
        flow_registry(config_of(config), tmp_path)
    assert expected in caught.value.errors


def test_a_reload_naming_a_queue_config_lacks_is_rejected_and_the_old_version_serves(
    tmp_path: Path,
) -> None:
    config = site(tmp_path, {"water.yaml": WATER_FLOW.format(calendar="phone")}, with_water_quality)
    registry = FlowRegistry(tmp_path / "dialplans", CATALOG, config_of(config))
    registry.load()
    before = registry.live("water")
    flow = tmp_path / "dialplans" / "water.yaml"
    flow.write_text(
        WATER_FLOW.format(calendar="phone").replace("water_quality", "water_quaility"),
        encoding="utf-8",
    )
    stat = flow.stat()
    os.utime(flow, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))

    assert registry.reload_if_changed() is False
    assert registry.live("water") == before
    line = line_of(flow, "queue: water_quaility")
    assert registry.status.errors == [
        f"{flow}:{line}: unknown queue 'water_quaility' "
        "(known: billing, general, moving, reconnection, water_quality)"
    ]


# --- intake fields, by the intake service's rules -------------------------------------------


def stop_flow(tmp_path: Path, fields: dict[str, str]) -> Path:
    body = "\n".join(f"      {name}: {var}" for name, var in fields.items())
    return site(tmp_path, {"stop.yaml": STOP_FLOW.format(fields=body)})


def test_an_intake_field_name_with_a_typo_is_rejected_by_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = stop_flow(tmp_path, {"custmer_number": "account_number", "stop_date": "stop_date"})
    flow = tmp_path / "dialplans" / "stop.yaml"
    code, out = check(config, capsys)
    assert code == 1
    assert f"{flow}:{line_of(flow, 'custmer_number:')}: stop request: unknown field " in out
    # the real field is then missing too, reported where the fields are
    assert (
        f"{flow}:{line_of(flow, 'fields:')}: stop request: missing field 'customer_number'" in out
    )


def test_an_intake_without_a_field_its_request_requires_is_rejected_by_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = stop_flow(tmp_path, {"customer_number": "account_number", "caller_id": "caller_id"})
    # the collected date is never handed over; the flow is otherwise sound
    flow = tmp_path / "dialplans" / "stop.yaml"
    code, out = check(config, capsys)
    assert code == 1
    assert out.splitlines()[0] == (
        f"{flow}:{line_of(flow, 'fields:')}: stop request: missing field 'stop_date'"
    )


def test_intake_fields_the_live_call_maps_are_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the shipped flows use name_recording / leak_recording (the service's `recording`) and
    # caller_id (its contact_phone where the request takes one)
    config = site(tmp_path, shipped_flows())
    assert check(config, capsys) == (0, "ok: 2 file(s)\n")


def test_without_queues_or_departments_the_engine_routes_nothing_and_names_are_not_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # no ACD (`DialplanRouter`): every queue node overflows, every transfer fails, by design
    def no_acd(data: dict[str, Any]) -> None:
        data["routing"] = {"calendars": data["routing"]["calendars"]}

    config = site(tmp_path, shipped_flows(), no_acd)
    assert check(config, capsys) == (0, "ok: 2 file(s)\n")


def test_check_takes_a_directory_as_the_engine_reads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site(tmp_path, shipped_flows())
    dialplans = tmp_path / "dialplans"
    assert check(config, capsys, str(dialplans)) == (0, "ok: 2 file(s)\n")
    assert check(config, capsys, f"{dialplans}/") == (0, "ok: 2 file(s)\n")
    (dialplans / "broken.yaml").write_bytes(b"flow: {id: caf\xe9}\n")
    code, out = check(config, capsys, str(dialplans))
    assert code == 1
    assert f"{dialplans / 'broken.yaml'}:1: not UTF-8 at byte 14 (save the file as UTF-8)" in out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check(config, capsys, str(empty)) == (
        1,
        f"no dialplan files (*.yaml) to check in {empty}\n",
    )


# --- departments: the engine's, in the database (edited on /admin/departments) --------------

SEWER_FLOW = """\
flow:
  id: sewer
  start: hand_over
  fallback: bye
nodes:
  hand_over:
    kind: transfer
    department: {department}
    prompts: [welcome]
    on_failed: bye
  bye:
    kind: hangup
    prompts: [thank-you-goodbye]
"""

SEWER = Department("sewer", "下水道課", "Sewerage", "PJSIP/sewer")


def with_database(url: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        data["database"] = {"url": url}

    return edit


async def in_book(url: str, work: Callable[[DepartmentBook], Awaitable[object]]) -> None:
    engine = open_engine(url)
    try:
        await work(DepartmentBook(engine))
    finally:
        await engine.dispose()


async def check_in_thread(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    # as a terminal runs it: the command makes its own event loop
    return await asyncio.to_thread(check, config, capsys)


async def test_check_knows_a_department_added_in_the_database_and_not_one_removed_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = copy_database(await asyncio.to_thread(make_template, tmp_path), tmp_path)
    flows = {**shipped_flows(), "sewer.yaml": SEWER_FLOW.format(department="sewer")}
    config = site(tmp_path, flows, with_database(url))
    flow = tmp_path / "dialplans" / "sewer.yaml"
    code, out = await check_in_thread(config, capsys)
    assert code == 1
    assert f"{flow}:{line_of(flow, 'department: sewer')}: unknown department 'sewer'" in out

    await in_book(url, lambda book: book.save(SEWER, "admin:boss", T0, calendars=(), new=True))
    assert await check_in_thread(config, capsys) == (0, "ok: 3 file(s)\n")
    # simulate checks the same way: the call walks to the transfer
    simulated = await asyncio.to_thread(main, ["--config", str(config), "simulate", str(flow)])
    printed = capsys.readouterr()
    assert simulated == 0, printed.err
    assert "TRANSFER sewer" in printed.out

    # config.yaml still names construction; the console removed it: the engine has none
    await in_book(url, lambda book: book.seed(config_departments(config_of(config)), T0))
    await in_book(url, lambda book: book.remove("construction", "admin:boss", T0, in_use=()))
    code, out = await check_in_thread(config, capsys)
    assert code == 1
    hotline = tmp_path / "dialplans" / "hotline.yaml"
    line = line_of(hotline, "department: construction")
    assert f"{hotline}:{line}: unknown department 'construction'" in out


async def test_check_on_an_unreadable_database_says_it_checked_configs_departments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.write_bytes(b"")  # a file, no tables: not the engine's database
    config = site(tmp_path, shipped_flows(), with_database(f"sqlite+aiosqlite:///{empty}"))
    code, out = await check_in_thread(config, capsys)
    assert code == 0
    assert "note: departments checked against config.yaml's: database.url: cannot open" in out


async def test_the_registry_checks_against_the_engines_departments_and_follows_them(
    tmp_path: Path,
) -> None:
    config = config_of(site(tmp_path, {"sewer.yaml": SEWER_FLOW.format(department="sewer")}))
    names = {"emergency_duty", "sewer"}

    async def departments() -> set[str]:
        return set(names)

    registry = FlowRegistry(tmp_path / "dialplans", CATALOG, config, departments)
    await registry.start()
    before = registry.live("sewer")
    flow = tmp_path / "dialplans" / "sewer.yaml"
    flow.write_text(SEWER_FLOW.format(department="sewage"), encoding="utf-8")

    await registry.refresh_departments()
    assert registry.reload_if_changed() is False
    assert registry.live("sewer") == before
    line = line_of(flow, "department: sewage")
    assert registry.status.errors == [
        f"{flow}:{line}: unknown department 'sewage' (known: emergency_duty, sewer)"
    ]
    # the admin adds it on /admin/departments: the next look takes the edit, no restart
    names.add("sewage")
    await registry.refresh_departments()
    assert registry.reload_if_changed() is True
    hand_over = registry.live("sewer").flow.nodes["hand_over"]
    assert isinstance(hand_over, TransferNode)
    assert hand_over.department == "sewage"
