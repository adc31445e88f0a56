"""`hotline report --from DATE --to DATE [--queue Q] [--interval 15|30|60|day|month]
[--hours all|in|out] [--format csv|html|json] [-o FILE]`: the period's statistics from the
call trail in the database (Tokyo days, both ends included).

The roll-up is brought up to date first (`ivr.reports.rollup`), then the report is read. The
list of abandoned calls carries the callers' numbers, for calling them back: supervisor-only
data; `--no-callers` leaves them out (a report to pass on).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from ivr.app import report_hours
from ivr.cli.db import with_engine
from ivr.cli.output import write_document
from ivr.config import load_config
from ivr.domain import utc_now
from ivr.errors import ConfigError
from ivr.reports.builder import make_report, spec_for
from ivr.reports.queries import INTERVALS
from ivr.reports.render import FORMATS, render


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = subparsers.add_parser("report", help="statistics of a period from the call trail")
    add_period(report)
    report.add_argument("--queue", help="one queue only (default: every queue and the total)")
    report.add_argument("--interval", choices=INTERVALS, default="day", help="default: day")
    report.add_argument(
        "--hours",
        choices=("all", "in", "out"),
        default="all",
        help="calls within or outside opening hours only (default: all)",
    )
    report.add_argument("--format", choices=FORMATS, default="csv", help="default: csv")
    report.add_argument(
        "--no-callers",
        action="store_true",
        help="leave callers' numbers out of the list of abandoned calls",
    )
    report.add_argument("-o", "--output", help="write to this file instead of stdout")
    report.set_defaults(func=run_report)


def add_period(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from", dest="first", type=date.fromisoformat, required=True, help="first day, Tokyo"
    )
    parser.add_argument(
        "--to", dest="last", type=date.fromisoformat, required=True, help="last day, Tokyo"
    )


def run_report(args: argparse.Namespace) -> int:
    config = load_config(getattr(args, "config", None))
    if args.last < args.first:
        raise ConfigError("--to is before --from")
    spec = spec_for(
        config.reports,
        args.first,
        args.last,
        interval=args.interval,
        queue=args.queue,
        hours=args.hours,
    )
    hours = report_hours(config)
    report = with_engine(
        config.database.url,
        lambda engine: make_report(engine, config.reports, spec, hours, utc_now()),
    )
    if args.queue and args.queue not in report.queues:
        # a typo would otherwise give an empty report that looks like a quiet queue; a queue
        # since removed from the config may still have its history, so this is no error
        known = ", ".join(sorted(config.routing.queues)) or "none configured"
        print(
            f"no calls in queue {args.queue!r} in the period (routing.queues: {known})",
            file=sys.stderr,
        )
    return write_document(render(report, args.format, callers=not args.no_callers), args.output)
