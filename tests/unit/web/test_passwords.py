"""Staff passwords: argon2 hashes that verify, refuse, and are redone when their parameters age."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from ivr.store.passwords import Passwords, password_problem

pytestmark = pytest.mark.unit


async def test_a_hash_verifies_its_password_only() -> None:
    pw = Passwords.for_tests()
    stored = await pw.hash("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert (await pw.verify(stored, "correct horse battery")).ok
    assert not (await pw.verify(stored, "correct horse batterY")).ok
    assert not (await pw.verify("not a hash", "correct horse battery")).ok


async def test_an_outdated_hash_is_redone_on_a_right_password() -> None:
    old = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    new = Passwords(PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    stored = await old.hash("correct horse battery")
    wrong = await new.verify(stored, "wrong password!")
    assert (wrong.ok, wrong.new_hash) == (False, None)
    verdict = await new.verify(stored, "correct horse battery")
    assert verdict.ok
    assert verdict.new_hash is not None
    assert "m=2048,t=2" in verdict.new_hash
    again = await new.verify(verdict.new_hash, "correct horse battery")
    assert (again.ok, again.new_hash) == (True, None)


async def test_an_unknown_login_costs_a_verification_and_fails() -> None:
    pw = Passwords.for_tests()
    assert not (await pw.check_unknown("correct horse battery")).ok


@pytest.mark.parametrize(
    ("password", "problem"),
    [("short", "at least 10"), ("x" * 257, "at most 256"), ("ten chars!", None)],
)
def test_password_rules(password: str, problem: str | None) -> None:
    found = password_problem(password)
    assert (found is None) if problem is None else (problem in (found or ""))
