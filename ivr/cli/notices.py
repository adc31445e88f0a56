"""`hotline notices add | list | end | render`: the notices callers hear, from the command line
(the same `NoticeDesk` as the console's /admin/notices).

`add` checks the notice, stores it, renders its Japanese and English audio with the prompts'
speech engine into the directory Asterisk reads prompts from, and says whether it is live; a
notice whose audio could not be made is stored but not played (exit 1, with the reason). Times
are Tokyo time (``2027-03-03 09:00``) unless they carry an offset. `render` makes the audio of
notices still pending (the demo's, or one saved by a process that stopped first). A running
engine hears of a change at its next read of the notices (`ivr.adapters.notices`:
within `NOTICES_REFRESH_S`). Each change is in the audit log as ``cli:<user>``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.adapters.notices import NoticeDesk, NoticeRejected
from ivr.cli.db import database_url, with_engine
from ivr.config import load_config
from ivr.domain import TOKYO, utc_now
from ivr.prompts import NoticeVoices, default_output_dir, default_tts
from ivr.store.migrate import migrate
from ivr.store.notices import NoticeDraft, NoticeEntry, NoticeNotFound, NoticeStore, split_areas
from ivr.store.tables import NOTICE_KINDS

TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M")


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    notices = subparsers.add_parser("notices", help="notices callers hear: add, list, end")
    sub = notices.add_subparsers(dest="notices_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="add a notice and make its audio (live when that worked)")
    add.add_argument("--kind", choices=NOTICE_KINDS, required=True)
    add.add_argument("--areas", required=True, help="area codes, e.g. chuo-01,chuo-02")
    add.add_argument("--from", dest="valid_from", required=True, help="2027-03-03 09:00 (Tokyo)")
    add.add_argument("--until", dest="valid_until", required=True, help="end, as --from")
    add.add_argument("--ja", required=True, help="the Japanese text, spoken as written")
    add.add_argument("--en", default="", help="the English text (blank: the Japanese audio)")
    _common(add)
    add.set_defaults(func=run_add)
    ls = sub.add_parser("list", help="list the notices (newest first) and whether they play")
    _common(ls)
    ls.set_defaults(func=run_list)
    end = sub.add_parser("end", help="end a notice now")
    end.add_argument("id", type=int)
    _common(end)
    end.set_defaults(func=run_end)
    render = sub.add_parser("render", help="make the audio of notices still pending")
    _common(render)
    render.set_defaults(func=run_render)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output-dir",
        help="where Asterisk reads prompts, as a host path (default: the sandbox chroot's "
        "prompt directory when it exists)",
    )
    parser.add_argument("--by", help="who makes the change, for the audit log (default: $USER)")


def parse_time(text: str) -> datetime | None:
    """Tokyo wall time, or an ISO time with its offset; None if unreadable."""
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=TOKYO)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=TOKYO)


def _actor(args: argparse.Namespace) -> str:
    return f"cli:{args.by or getpass.getuser()}"


def _desk(args: argparse.Namespace, db: AsyncEngine) -> NoticeDesk:
    config = load_config(getattr(args, "config", None))
    root = Path.cwd()
    output = Path(args.output_dir) if args.output_dir else default_output_dir(root)
    voices = NoticeVoices(output, default_tts(root), config.prompts.asterisk_dir)
    return NoticeDesk(NoticeStore(db), voices)


def _url(args: argparse.Namespace) -> str:
    url = database_url(args)
    with_engine(url, lambda _: migrate(url))
    return url


def tokyo(value: datetime) -> str:
    return value.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M")


def describe(entry: NoticeEntry, now: datetime) -> str:
    audio = ", ".join(
        f"{lang} {state}" + (f" ({entry.audio_reason[lang]})" if entry.audio_reason[lang] else "")
        for lang, state in entry.audio.items()
    )
    return (
        f"{entry.id}\t{entry.status(now)}\t{entry.kind}\t{','.join(entry.areas)}\t"
        f"{tokyo(entry.valid_from)} - {tokyo(entry.valid_until)}\taudio: {audio}"
    )


def run_add(args: argparse.Namespace) -> int:
    start, end = parse_time(args.valid_from), parse_time(args.valid_until)
    if start is None or end is None:
        print(
            "hotline notices: --from and --until are times like 2027-03-03 09:00", file=sys.stderr
        )
        return 1
    draft = NoticeDraft(
        args.kind, split_areas(args.areas), args.ja.strip(), args.en.strip(), start, end
    )
    url = _url(args)
    try:
        entry = with_engine(url, lambda db: _desk(args, db).add(draft, _actor(args)))
    except NoticeRejected as rejected:
        for field, code in rejected.problems.items():
            print(f"hotline notices: {field}: {code}", file=sys.stderr)
        return 1
    print(describe(entry, utc_now()))
    if not entry.live:
        print(
            f"hotline notices: notice {entry.id} is not played: its audio failed", file=sys.stderr
        )
        return 1
    return 0


def run_list(args: argparse.Namespace) -> int:
    entries = with_engine(_url(args), lambda db: NoticeStore(db).listing())
    now = utc_now()
    for entry in entries:
        print(describe(entry, now))
    return 0


def run_end(args: argparse.Namespace) -> int:
    try:
        entry = with_engine(_url(args), lambda db: _desk(args, db).end(args.id, _actor(args)))
    except NoticeNotFound:
        print(f"hotline notices: no notice {args.id}", file=sys.stderr)
        return 1
    print(describe(entry, utc_now()))
    return 0


def run_render(args: argparse.Namespace) -> int:
    done = with_engine(_url(args), lambda db: _desk(args, db).render_pending())
    now = utc_now()
    for entry in done:
        print(describe(entry, now))
    return 0 if all(e.live for e in done) else 1
