"""`hotline agents add | passwd | disable | enable | list | demo`: console staff from the command
line, for the first admin and scripted set-up.

A password is asked for twice at a prompt, or read as one line from standard input with
`--password-stdin` (scripts); never taken from the command line, where `ps` and shell history
would show it. `demo` makes the staff of `scripts/start` (one agent per agent phone of
config.yaml, a supervisor, an admin) with random passwords and prints them once; it does nothing
when the database has staff already.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from ivr.cli.db import database_url, with_engine
from ivr.config import load_config
from ivr.domain import utc_now
from ivr.store.demo import DemoPhone, demo_staff
from ivr.store.migrate import migrate
from ivr.store.passwords import Passwords, password_problem
from ivr.store.staff import NewStaff, Role, StaffError, StaffMember, StaffStore, normalise_login
from ivr.store.tokens import ApiTokens


def passwords() -> Passwords:
    """argon2id with its standard parameters (tests put cheaper ones here)."""
    return Passwords()


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agents = subparsers.add_parser("agents", help="console staff: add, passwords, disable, list")
    sub = agents.add_subparsers(dest="agents_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="add a member of staff (asks for the password)")
    add.add_argument("login", help="log-in id: lower-case letters, digits, '.', '_', '-'")
    add.add_argument("--name", required=True, help="display name")
    add.add_argument("--role", choices=[r.value for r in Role], default=Role.AGENT.value)
    add.add_argument("--endpoint", help="the phone the agent takes calls on, e.g. PJSIP/agent1")
    add.add_argument("--skills", default="", help="comma-separated skills, e.g. moving,billing")
    add.add_argument("--language", choices=["ja", "en"], default="ja", help="UI language")
    _password_source(add)
    add.set_defaults(func=run_add)
    pw = sub.add_parser("passwd", help="set a new password (ends the member's sessions)")
    pw.add_argument("login")
    _password_source(pw)
    pw.set_defaults(func=run_passwd)
    off = sub.add_parser("disable", help="disable a member (ends their sessions)")
    off.add_argument("login")
    off.set_defaults(func=run_disable)
    on = sub.add_parser("enable", help="enable a disabled member again")
    on.add_argument("login")
    on.set_defaults(func=run_enable)
    ls = sub.add_parser("list", help="list the staff")
    ls.set_defaults(func=run_list)
    demo = sub.add_parser("demo", help="demo staff for scripts/start, passwords printed once")
    demo.set_defaults(func=run_demo)
    token = sub.add_parser(
        "token", help="a new API token for the member (printed once; replaces the old one)"
    )
    token.add_argument("login")
    token.add_argument("--revoke", action="store_true", help="remove the member's token")
    token.set_defaults(func=run_token)


def _password_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password as one line of stdin"
    )


def read_password(args: argparse.Namespace) -> str | None:
    """The new password, or None (the reason printed) when it cannot be used."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("hotline agents: the two passwords differ", file=sys.stderr)
            return None
    problem = password_problem(password)
    if problem is not None:
        print(f"hotline agents: {problem}", file=sys.stderr)
        return None
    return password


def _prepared(args: argparse.Namespace) -> str:
    url = database_url(args)
    asyncio.run(migrate(url))
    return url


def run_add(args: argparse.Namespace) -> int:
    password = read_password(args)
    if password is None:
        return 1
    new = NewStaff(
        login=args.login,
        display_name=args.name,
        role=Role(args.role),
        endpoint=args.endpoint,
        skills=tuple(s.strip() for s in args.skills.split(",") if s.strip()),
        language=args.language,
    )
    hashed = passwords().hash_now(password)
    try:
        member = with_engine(_prepared(args), lambda e: StaffStore(e).add(new, hashed, utc_now()))
    except StaffError as exc:
        print(f"hotline agents: {exc}", file=sys.stderr)
        return 1
    print(f"added {member.login} ({member.role.value})")
    return 0


def _known(login: str) -> str | None:
    normal = normalise_login(login)
    if normal is None:
        print(f"hotline agents: {login!r} is not a log-in id", file=sys.stderr)
    return normal


def run_passwd(args: argparse.Namespace) -> int:
    login = _known(args.login)
    password = read_password(args) if login else None
    if login is None or password is None:
        return 1
    hashed = passwords().hash_now(password)
    done = with_engine(
        _prepared(args), lambda e: StaffStore(e).set_password(login, hashed, utc_now())
    )
    return _report(done, login, "password changed; their sessions are ended")


def run_disable(args: argparse.Namespace) -> int:
    return _set_disabled(args, True, "disabled; their sessions are ended")


def run_enable(args: argparse.Namespace) -> int:
    return _set_disabled(args, False, "enabled")


def _set_disabled(args: argparse.Namespace, disabled: bool, what: str) -> int:
    login = _known(args.login)
    if login is None:
        return 1
    done = with_engine(
        _prepared(args), lambda e: StaffStore(e).set_disabled(login, disabled, utc_now())
    )
    return _report(done, login, what)


def run_token(args: argparse.Namespace) -> int:
    login = _known(args.login)
    if login is None:
        return 1
    url = _prepared(args)
    if args.revoke:
        gone = with_engine(url, lambda e: ApiTokens(e).revoke(login))
        print(f"{login}: API token revoked" if gone else f"{login}: had no API token")
        return 0
    token = with_engine(url, lambda e: ApiTokens(e).issue(login, utc_now()))
    if token is None:
        return _report(False, login, "")
    # the one time it is shown: only its hash is kept
    print(token)
    print(f"{login}: send it as 'Authorization: Bearer <token>' to /api/v1", file=sys.stderr)
    return 0


def _report(done: bool, login: str, what: str) -> int:
    if not done:
        print(f"hotline agents: no member of staff {login!r}", file=sys.stderr)
        return 1
    print(f"{login}: {what}")
    return 0


def _row(m: StaffMember) -> str:
    state = "disabled" if m.disabled else "active"
    return (
        f"{m.login:<16} {m.role.value:<10} {m.endpoint or '-':<16} {m.language:<3} "
        f"{state:<8} {','.join(m.skills) or '-'}"
    )


def run_list(args: argparse.Namespace) -> int:
    members = with_engine(_prepared(args), lambda e: StaffStore(e).all())
    print(f"{'LOGIN':<16} {'ROLE':<10} {'ENDPOINT':<16} {'UI':<3} {'STATE':<8} SKILLS")
    for m in members:
        print(_row(m))
    return 0


def run_demo(args: argparse.Namespace) -> int:
    config = load_config(getattr(args, "config", None))
    phones = [
        DemoPhone(name, agent.endpoint, agent.skills)
        for name, agent in config.routing.agents.items()
    ]
    made = with_engine(
        _prepared(args),
        lambda e: demo_staff(StaffStore(e), phones, passwords(), utc_now()),
    )
    if not made:
        print("demo staff: there are staff already (hotline agents list; passwd to reset one)")
        return 0
    url = f"http://{config.console.host}:{config.console.port}/login"
    print(f"demo staff for the console at {url} (passwords shown this once, stored hashed):")
    for member, password in made:
        print(f"  {member.login:<12} {member.role.value:<10} password: {password}")
    return 0
