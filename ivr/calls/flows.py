"""The live call flows: dialplans/*.yaml loaded and checked as a whole, reloaded on change.

A valid edit replaces the live version for NEW calls; a call keeps the exact version it started
with (kept here by content digest, and named in the call's saved state). An invalid edit is
rejected with every `file:line` error logged and kept in `last_errors` (shown by
`hotline status`), and the previous version goes on serving.

What a flow may name comes from the application config, once, here (`references_from`): the
queues and calendars of `routing:`, the prompt catalog, the field rules of the intake service,
and the departments the engine has: the database's (edited on `/admin/departments`, read by the
shell and handed in as names, `FlowRegistry(departments=...)`), config.yaml's where none is
handed in. `hotline check`, `hotline simulate` and the engine all check with it, so a name the
engine has is accepted everywhere and one it lacks is rejected before any call uses it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from ivr.config import AppConfig
from ivr.domain import RequestKind
from ivr.errors import FlowError
from ivr.flow.catalog import Catalog, catalog_from_bytes, load_catalog
from ivr.flow.loader import BUILTIN_PROMPTS, References, flows_from_bytes
from ivr.flow.model import Flow
from ivr.intake.fields import intake_fields
from ivr.intake.validation import accepted_fields, alternatives, field_problems
from ivr.store.flowfiles import AcceptedFile
from ivr.yamltext import read_bounded

log = logging.getLogger(__name__)

# a valid phone number: stands in for the caller ID, which the intake may take as contact_phone
_SAMPLE_CALLER_ID = "+81335551234"


DepartmentNames = Callable[[], Awaitable[Collection[str]]]
"""The codes of the departments the engine has now (the database's; `ivr.app` wires it)."""


def references_from(
    config: AppConfig | None, catalog: Catalog, departments: Collection[str] | None = None
) -> References:
    """What the flows may name under `config`, with `departments` the engine has (None:
    config.yaml's). `config` None: only the prompts are checked, for engines whose routing and
    intake are fakes (tests), which take any queue and any fields."""
    if config is None:
        return References(catalog=catalog)
    routing = config.routing
    # with neither queues nor departments the engine routes no call itself (`DialplanRouter`):
    # every `queue` node takes its overflow branch and every `transfer` its failure branch
    acd = bool(routing.queues or routing.departments)
    known = frozenset(routing.departments if departments is None else departments)
    return References(
        catalog=catalog,
        queues=frozenset(routing.queues) if acd else None,
        departments=known if acd else None,
        calendars=frozenset(routing.calendars),
        intake=intake_field_problems,
    )


def load_flow_catalog(path: str | Path) -> Catalog:
    """The prompt catalog, which must have the prompts the engine plays on its own."""
    return _with_builtins(load_catalog(path), path)


def _with_builtins(catalog: Catalog, path: str | Path) -> Catalog:
    missing = [p for p in BUILTIN_PROMPTS if p not in catalog]
    if missing:
        raise FlowError(
            [f"{path}:1: missing prompt {p!r}, which the engine plays on its own" for p in missing]
        )
    return catalog


def intake_field_problems(kind: str, names: Collection[str]) -> dict[str, str]:
    """The `IntakeCheck` of the flows: an `intake` node's field names as the live call hands them
    to the intake service (`ivr.intake.fields.intake_fields`), judged by the service's own rules."""
    try:
        request = RequestKind(kind)
    except ValueError:
        return {"": "the intake service takes no such request"}
    # the service's name for each of the flow's fields (caller_id: contact_phone, or nothing)
    flow_name: dict[str, str] = {}
    for name in names:
        sample = _SAMPLE_CALLER_ID if name == "caller_id" else "x"
        for service_name in intake_fields(request, {name: sample}):
            flow_name.setdefault(service_name, name)
    problems: dict[str, str] = {}
    for service_name, code in sorted(field_problems(request, flow_name).items()):
        if code == "unknown_field":
            takes = ", ".join(sorted(accepted_fields(request)))
            problems[flow_name[service_name]] = (
                f"unknown field {flow_name[service_name]!r} (it takes: {takes})"
            )
        else:
            either = " or ".join(repr(n) for n in alternatives(request, service_name))
            problems[service_name] = f"missing field {either}"
    return problems


@dataclass(frozen=True)
class FlowVersion:
    flow: Flow
    digest: str


@dataclass
class ReloadStatus:
    loaded_at: str = ""
    files: int = 0
    errors: list[str] = field(default_factory=list)
    rejected_at: str = ""
    # set when the files on disk did not load at start and the engine serves the version
    # kept in the database instead: when that version went live
    serving_accepted_from: str = ""


class FlowKeeper(Protocol):
    """Where the last accepted flow files are kept (`ivr.store.flowfiles`)."""

    async def save(self, files: Sequence[AcceptedFile], at: datetime) -> bool: ...

    async def last(self) -> tuple[list[AcceptedFile], datetime | None]: ...


class FlowRegistry:
    def __init__(
        self,
        directory: Path,
        catalog_path: Path,
        config: AppConfig | None = None,
        departments: DepartmentNames | None = None,
    ) -> None:
        """`config`: what the flows may name (`references_from`); every load and reload checks
        against it, so an engine never starts or goes on with a flow that names what it lacks.
        `ivr.app.flow_registry` passes the engine's; None is for engines on fake services.
        `departments`: where the names of the engine's departments are read (the database's),
        before the start and each look for edits; None: config.yaml's."""
        self.directory = directory
        self.catalog_path = catalog_path
        self.config = config
        self.departments = departments
        #: the department names the flows were last checked against (None: config.yaml's)
        self.department_names: frozenset[str] | None = None
        self.catalog: Catalog | None = None
        #: the files of the live version, as read (what `FlowKeeper.save` keeps)
        self.accepted: tuple[AcceptedFile, ...] = ()
        self._live: dict[str, FlowVersion] = {}
        self._versions: dict[tuple[str, str], FlowVersion] = {}
        self._fingerprint: tuple[tuple[str, int, int], ...] = ()
        self.status = ReloadStatus()
        self._round_done = asyncio.Event()

    def _files(self) -> list[Path]:
        return sorted(self.directory.glob("*.yaml"))

    def _stamp(self) -> tuple[tuple[str, int, int], ...]:
        paths = [*self._files(), self.catalog_path]
        out = []
        for p in paths:
            try:
                st = p.stat()
            except OSError:
                continue
            out.append((str(p), st.st_mtime_ns, st.st_size))
        if self.department_names is not None:
            # a department added or removed is a change too: a flow rejected for naming one the
            # engine lacked goes live once it exists
            out.append(("departments:" + ",".join(sorted(self.department_names)), 0, 0))
        return tuple(out)

    async def refresh_departments(self) -> None:
        """Read the engine's department names again (kept as they were when unreadable: the
        next look tries again)."""
        if self.departments is None:
            return
        try:
            self.department_names = frozenset(await self.departments())
        except Exception:
            log.warning("the departments could not be read; flows are checked against the last")

    def load(self) -> None:
        """Load everything or raise `FlowError`; the live set changes only when all is valid."""
        stamp = self._stamp()
        files = self._files()
        if not files:
            raise FlowError([f"{self.directory}: no flow files (*.yaml)"])
        read = {str(p): read_bounded(p) for p in [self.catalog_path, *files]}
        unreadable = [error for error in read.values() if isinstance(error, str)]
        if unreadable:
            raise FlowError(unreadable)
        texts = {name: raw for name, raw in read.items() if isinstance(raw, bytes)}
        catalog_name = str(self.catalog_path)
        self._load_texts(catalog_name, texts.pop(catalog_name), texts)
        self._fingerprint = stamp

    def _load_texts(self, catalog_name: str, catalog: bytes, flows: Mapping[str, bytes]) -> None:
        prompts = _with_builtins(catalog_from_bytes(catalog, catalog_name), catalog_name)
        refs = references_from(self.config, prompts, self.department_names)
        loaded = flows_from_bytes(flows, refs)
        versions: dict[str, FlowVersion] = {}
        for flow_id, flow in loaded.items():
            digest = hashlib.sha256(flow.model_dump_json().encode()).hexdigest()[:16]
            versions[flow_id] = FlowVersion(flow, digest)
            self._versions[(flow_id, digest)] = versions[flow_id]
        self.catalog = prompts
        self._live = versions
        # loaded, so valid UTF-8
        self.accepted = (
            AcceptedFile(catalog_name, "catalog", catalog.decode()),
            *(AcceptedFile(name, "flow", raw.decode()) for name, raw in sorted(flows.items())),
        )
        self.status = ReloadStatus(loaded_at=_now(), files=len(flows))

    async def start(self, keeper: FlowKeeper | None = None) -> None:
        """Load at engine start, and keep what went live in `keeper`. When the files on disk do
        not load, serve the version `keeper` kept (the rejection shown in status and the log),
        so a broken edit saved while the engine was down does not keep the hotline down; with
        nothing kept, raise `FlowError` as `load` does."""
        await self.refresh_departments()
        try:
            await asyncio.to_thread(self.load)
        except FlowError as exc:
            kept, accepted_at = ([], None) if keeper is None else await keeper.last()
            if not kept or not self._serve_kept(kept):
                raise
            self._fingerprint = self._stamp()
            self.status.errors = list(exc.errors)
            self.status.rejected_at = _now()
            self.status.serving_accepted_from = (
                accepted_at.isoformat(timespec="seconds") if accepted_at else ""
            )
            log.error(
                "the flow files do not load; serving the version accepted at %s:\n%s",
                self.status.serving_accepted_from,
                "\n".join(exc.errors),
            )
            return
        await self.keep(keeper)

    def _serve_kept(self, kept: Sequence[AcceptedFile]) -> bool:
        catalogs = [f for f in kept if f.kind == "catalog"]
        flows = {f.name: f.text.encode() for f in kept if f.kind == "flow"}
        if len(catalogs) != 1 or not flows:
            return False
        try:
            self._load_texts(catalogs[0].name, catalogs[0].text.encode(), flows)
        except FlowError as kept_error:
            # e.g. config.yaml no longer has a queue the kept version uses
            log.error(
                "the kept flow version does not load either:\n%s", "\n".join(kept_error.errors)
            )
            return False
        return True

    async def keep(self, keeper: FlowKeeper | None) -> None:
        """Save the live version's files in `keeper` (nothing when unchanged)."""
        if keeper is not None and self.accepted:
            await keeper.save(self.accepted, datetime.now(UTC))

    def reload_if_changed(self) -> bool:
        """Reload when a file changed; returns True when a new version went live.

        Never raises: whatever stops an edit from loading (a `FlowError`, or a fault of ours
        that a strange file brings out) is a rejected edit, and the live version stays.
        """
        if self._stamp() == self._fingerprint:
            return False
        try:
            self.load()
        except FlowError as exc:
            self._reject(list(exc.errors))
            return False
        except Exception as exc:
            log.exception("loading the changed flows failed")
            self._reject(
                [f"{self.directory}: the changed files could not be loaded ({exc!r:.200})"]
            )
            return False
        log.info("flows reloaded (%d files)", self.status.files)
        return True

    def _reject(self, errors: list[str]) -> None:
        # remember the bad stamp so the same broken edit is reported once
        self._fingerprint = self._stamp()
        self.status.errors = errors
        self.status.rejected_at = _now()
        log.error(
            "flow change rejected; the previous version keeps serving:\n%s", "\n".join(errors)
        )

    async def watch(self, poll_s: float, keeper: FlowKeeper | None = None) -> None:
        """Poll for edits until cancelled (no inotify dependency; edits are rare); each version
        that goes live is kept in `keeper`. One failed round (say, the directory briefly gone,
        or the database) is logged and the next round tries again: the watcher ends only when
        it is cancelled."""
        while True:
            await asyncio.sleep(poll_s)
            try:
                await self.refresh_departments()
                if await asyncio.to_thread(self.reload_if_changed):
                    await self.keep(keeper)
            except Exception:
                log.exception("checking the flows for edits failed; trying again in %.0f s", poll_s)
            done, self._round_done = self._round_done, asyncio.Event()
            done.set()

    async def watched(self) -> None:
        """Wait until `watch` has finished its next look at the files."""
        await self._round_done.wait()

    def live(self, flow_id: str) -> FlowVersion:
        return self._live[flow_id]

    def version(self, flow_id: str, digest: str) -> FlowVersion | None:
        return self._versions.get((flow_id, digest))

    def library(self) -> dict[str, Flow]:
        return {fid: v.flow for fid, v in self._live.items()}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
