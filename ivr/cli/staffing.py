"""`hotline staffing`: agents needed per interval, Erlang C beside Erlang A.

Measured: `hotline staffing --from DATE --to DATE [--queue Q] [--interval 15|30|60]` takes the
period's arrivals per interval of the day (averaged over the days that had calls then), the
measured AHT (talk + hold + wrap-up) and the callers' measured patience from the trail, e.g. a
peak plan for a March–April day from last year's March and April. What-if: `hotline staffing
--calls 100 --interval-s 1800 --aht 180 [--patience 120]` for entered figures. Target and
shrinkage default to config.yaml's `reports:` section.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from ivr.app import report_hours
from ivr.cli.db import with_engine
from ivr.config import AppConfig, load_config
from ivr.domain import utc_now
from ivr.errors import ConfigError
from ivr.reports.builder import make_plan, spec_for, target_of
from ivr.reports.staffing import FORMULAS, Interval, Staffing, Target, side_by_side
from routing.hours import report_calendar

HEAD = (
    f"{'interval':<11} {'calls':>7} {'AHT s':>6} {'load':>6} | {'C agents':>8} {'SL':>6} "
    f"{'P(wait)':>7} {'ASA s':>6} {'occ':>6} {'seats':>5} | {'A agents':>8} {'SL':>6} "
    f"{'aband.':>6} {'seats':>5}"
)


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    staffing = subparsers.add_parser(
        "staffing", help="agents needed per interval (Erlang C and Erlang A)"
    )
    what_if = staffing.add_argument_group("entered figures (what-if)")
    what_if.add_argument("--calls", type=float, help="calls arriving in the interval")
    what_if.add_argument("--interval-s", type=float, default=1800.0, help="default: 1800")
    what_if.add_argument("--aht", type=float, help="average handle time, seconds")
    what_if.add_argument("--patience", type=float, help="mean patience, seconds (Erlang A)")
    measured = staffing.add_argument_group("measured from the trail")
    measured.add_argument("--from", dest="first", type=date.fromisoformat, help="first day, Tokyo")
    measured.add_argument("--to", dest="last", type=date.fromisoformat, help="last day, Tokyo")
    measured.add_argument("--queue", help="one queue only")
    measured.add_argument("--interval", type=int, choices=(15, 30, 60), default=60)
    staffing.add_argument("--target", type=float, help="share answered within --answer-s")
    staffing.add_argument("--answer-s", type=float, help="answer threshold T, seconds")
    staffing.add_argument("--shrinkage", type=float, help="share of paid time off the phones")
    staffing.add_argument("--max-occupancy", type=float, help="occupancy cap (0–1)")
    staffing.set_defaults(func=run_staffing)


def _target(args: argparse.Namespace, config: AppConfig) -> Target:
    return target_of(
        config.reports,
        service_level=args.target,
        answer_s=args.answer_s,
        shrinkage=args.shrinkage,
        max_occupancy=args.max_occupancy,
    )


def _line(label: str, interval: Interval, c: Staffing, a: Staffing | None) -> str:
    left = (
        f"{label:<11} {interval.calls:>7.1f} {interval.aht_s:>6.0f} {interval.load:>6.2f} | "
        f"{c.agents:>8} {100 * c.service_level:>5.1f}% {c.p_wait:>7.3f} {c.asa_s:>6.1f} "
        f"{100 * c.occupancy:>5.1f}% {c.seats:>5}"
    )
    if a is None:
        return left + " |        –"
    return (
        left + f" | {a.agents:>8} {100 * a.service_level:>5.1f}% {100 * a.abandon:>5.1f}% "
        f"{a.seats:>5}"
    )


def run_staffing(args: argparse.Namespace) -> int:
    config = load_config(getattr(args, "config", None))
    target = _target(args, config)
    print(
        f"target {100 * target.service_level:.0f} % within {target.answer_s:g} s, shrinkage "
        f"{100 * target.shrinkage:.0f} %; Erlang A only where callers abandon (patience known)"
    )
    print(HEAD)
    if args.calls is not None:
        if args.aht is None:
            raise ConfigError("--calls needs --aht")
        interval = Interval(args.calls, args.interval_s, args.aht, args.patience)
        print(_line("what-if", interval, *side_by_side(interval, target)))
        _formulas()
        return 0
    if args.first is None or args.last is None:
        print("give --calls and --aht (what-if), or --from and --to (measured)", file=sys.stderr)
        return 2
    return _measured(args, config, target)


def _measured(args: argparse.Namespace, config: AppConfig, target: Target) -> int:
    spec = spec_for(config.reports, args.first, args.last, queue=args.queue)
    hours = report_hours(config)
    calendar = report_calendar(config.routing, config.reports.calendar, args.queue)
    minutes = int(args.interval)
    rows = with_engine(
        config.database.url,
        lambda engine: make_plan(
            engine,
            config.reports,
            spec,
            hours,
            utc_now(),
            minutes=minutes,
            target=target,
            open_minutes=calendar.open_minutes,
        ),
    )
    if not rows:
        print("no queued calls in the period", file=sys.stderr)
        return 1
    for row in rows:
        print(_line(row.label, row.interval, row.erlang_c, row.erlang_a))
    _formulas()
    return 0


def _formulas() -> None:
    print()
    for name, formula in FORMULAS:
        print(f"# {name}: {formula}")
