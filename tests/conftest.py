"""Suite-wide rules: in CI (scripts/test sets HOTLINE_FORBID_SKIPS=1) a skipped test is a failure —
a tier that could not run (no Asterisk, no PostgreSQL, no Chromium) must not pass silently; every
test carries its tier folder's marker; each pytest-xdist worker uses its own sandboxed Asterisk
(tests.support.workers)."""

from __future__ import annotations

import os

import pytest

from tests.support.workers import worker_env, worker_number


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is not None:
        # before any fixture asks for the sandbox: engines the tests start inherit it too
        os.environ.update(worker_env(worker_number(worker)))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("HOTLINE_FORBID_SKIPS") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped:
        if reporter is not None:
            reporter.write_line(f"FAILED: {len(skipped)} test(s) skipped; skips are failures in CI")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_TIERS = ("unit", "contract", "integration", "browser")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # `-m "unit or contract"` (the quick run) selects by marker: a test whose tier folder and
    # marker disagree would silently drop out of the quick run, so that is a collection error.
    unmarked = []
    for item in items:
        parts = item.path.relative_to(config.rootpath).parts
        tier = parts[1] if len(parts) > 2 and parts[0] == "tests" else None
        if tier in _TIERS and item.get_closest_marker(tier) is None:
            unmarked.append(item.nodeid)
    if unmarked:
        listed = "\n  ".join(unmarked[:20])
        raise pytest.UsageError(
            f"{len(unmarked)} test(s) lack the marker of their tier folder:\n  {listed}"
        )
