"""`hotline prompts build | list-missing`: make the audio Asterisk plays from the prompt catalog.

`add_commands(subparsers)` registers the `prompts` command; each handler takes the parsed
namespace and returns the process exit code. Paths are relative to the working directory (the
project root), like the dialplan tools.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from ivr.errors import FlowError
from ivr.flow.catalog import LANGUAGES, load_catalog
from ivr.prompts import (
    DEFAULT_ASTERISK_DIR,
    DEFAULT_JOBS,
    Failed,
    PromptError,
    PromptLibrary,
    Rendered,
    TtsUnavailable,
    default_output_dir,
    default_tts,
)

DEFAULT_CATALOG = "prompts/catalog.yaml"
DEFAULT_STUDIO = "prompts"


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    prompts = subparsers.add_parser("prompts", help="build prompt audio from the catalog")
    sub = prompts.add_subparsers(dest="prompts_command", metavar="ACTION", required=True)

    build = sub.add_parser(
        "build", help="render missing prompts (studio recording, else text-to-speech)"
    )
    build.add_argument("ids", nargs="*", help="only these prompt ids (default: all)")
    build.add_argument("--force", action="store_true", help="render again even if present")
    build.add_argument("--jobs", type=int, default=DEFAULT_JOBS, help="renders at a time")
    _add_common(build)
    build.set_defaults(func=run_build)

    missing = sub.add_parser(
        "list-missing", help="print <lang> <id> for prompts without audio; exit 1 if any"
    )
    _add_common(missing)
    missing.set_defaults(func=run_list_missing)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", choices=LANGUAGES, help="one language (default: all)")
    parser.add_argument("--catalog", default=DEFAULT_CATALOG, help="prompt catalog YAML")
    parser.add_argument(
        "--studio-dir", default=DEFAULT_STUDIO, help="studio recordings: <dir>/<lang>/<id>.wav"
    )
    parser.add_argument(
        "--output-dir",
        help="where Asterisk reads prompts, as a host path (default: the sandbox chroot's "
        f"{DEFAULT_ASTERISK_DIR} when it exists)",
    )
    parser.add_argument(
        "--asterisk-dir", default=DEFAULT_ASTERISK_DIR, help="the same place seen by Asterisk"
    )


def _library(args: argparse.Namespace, jobs: int = DEFAULT_JOBS) -> PromptLibrary:
    root = Path.cwd()
    return PromptLibrary(
        load_catalog(args.catalog),
        studio_dir=Path(args.studio_dir),
        output_dir=Path(args.output_dir) if args.output_dir else default_output_dir(root),
        asterisk_dir=args.asterisk_dir,
        tts=default_tts(root),
        jobs=jobs,
    )


def _langs(args: argparse.Namespace) -> tuple[str, ...]:
    return (args.lang,) if args.lang else LANGUAGES


def _print_progress(result: Rendered | Failed, done: int, total: int) -> None:
    where = f"[{done}/{total}] {result.lang}/{result.prompt_id}"
    if isinstance(result, Rendered):
        print(f"{where}: {result.origin}, {result.duration_s:.1f} s")
    else:
        print(f"{where}: FAILED: {result.reason}", file=sys.stderr)


def run_build(args: argparse.Namespace) -> int:
    try:
        library = _library(args, args.jobs)
        report = asyncio.run(
            library.build(
                _langs(args), force=args.force, progress=_print_progress, ids=args.ids or None
            )
        )
    except FlowError as exc:
        print(exc, file=sys.stderr)
        return 1
    except TtsUnavailable as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 1
    except PromptError as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 2
    print(
        f"{len(report.rendered)} rendered, {report.kept} kept, {len(report.failed)} failed "
        f"in {report.elapsed_s:.1f} s -> {library.output_dir}"
    )
    return 0 if report.ok else 1


def run_list_missing(args: argparse.Namespace) -> int:
    try:
        library = _library(args)
    except FlowError as exc:
        print(exc, file=sys.stderr)
        return 1
    found = False
    for lang in _langs(args):
        for prompt_id in library.missing(lang):
            print(f"{lang} {prompt_id}")
            found = True
    return 1 if found else 0
