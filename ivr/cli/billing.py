"""`hotline billing pending | retry [ids] | schema`: the billing outbox, from the command line.

Output lists ids, states and confirmation numbers only: no customer numbers, names or phone
numbers.
"""

from __future__ import annotations

import argparse

from ivr.cli.db import existing_database, with_engine
from ivr.cli.output import write_document
from ivr.intake.outbox import pending, retry
from ivr.intake.payload import billing_request_schema_json


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    billing = subparsers.add_parser("billing", help="the billing outbox")
    b_sub = billing.add_subparsers(dest="billing_command", metavar="ACTION", required=True)
    pend = b_sub.add_parser("pending", help="list requests not yet delivered to billing")
    pend.add_argument("--no-dead", action="store_true", help="leave out dead letters")
    pend.set_defaults(func=run_billing_pending)
    again = b_sub.add_parser("retry", help="make dead (or the given) outbox rows due again now")
    again.add_argument("ids", nargs="*", type=int, help="outbox row ids (default: every dead one)")
    again.set_defaults(func=run_billing_retry)
    schema = b_sub.add_parser("schema", help="print the JSON Schema of what billing receives")
    schema.add_argument("-o", "--output", help="write to this file instead of stdout")
    schema.set_defaults(func=run_billing_schema)


def run_billing_pending(args: argparse.Namespace) -> int:
    url = existing_database(args)
    rows = with_engine(url, lambda engine: pending(engine, include_dead=not args.no_dead))
    if not rows:
        print("nothing pending: billing has every request")
        return 0
    print(
        f"{'id':>6} {'request':>8} {'kind':<15} {'conf':<8} {'state':<8} {'tries':>5}  next / error"
    )
    for row in rows:
        kind = str(row.payload.get("kind", ""))
        confirmation = str(row.payload.get("confirmation", ""))
        when = row.next_attempt_at.isoformat(timespec="seconds")
        error = f"  {row.last_error}" if row.last_error else ""
        print(
            f"{row.id:>6} {row.request_id:>8} {kind:<15} {confirmation:<8} {row.state:<8} "
            f"{row.attempts:>5}  {when}{error}"
        )
    dead = sum(1 for r in rows if r.state == "dead")
    print(f"{len(rows)} not delivered ({dead} dead; `hotline billing retry` revives them)")
    return 0


def run_billing_retry(args: argparse.Namespace) -> int:
    url = existing_database(args)
    ids: list[int] | None = list(args.ids) if args.ids else None
    count = with_engine(url, lambda engine: retry(engine, ids))
    print(f"{count} outbox row(s) due again now")
    return 0


def run_billing_schema(args: argparse.Namespace) -> int:
    return write_document(billing_request_schema_json(), args.output)
