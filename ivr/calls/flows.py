"""The live call flows: dialplans/*.yaml loaded and checked as a whole, reloaded on change.

A valid edit replaces the live version for NEW calls; a call keeps the exact version it started
with (kept here by content digest, and named in the call's saved state). An invalid edit is
rejected with every `file:line` error logged and kept in `last_errors` (shown by
`hotline status`), and the previous version goes on serving.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ivr.errors import FlowError
from ivr.flow.catalog import Catalog, load_catalog
from ivr.flow.loader import References, load_flows
from ivr.flow.model import Flow

log = logging.getLogger(__name__)


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


class FlowRegistry:
    def __init__(
        self,
        directory: Path,
        catalog_path: Path,
        references: Callable[[Catalog], References] | None = None,
    ) -> None:
        self.directory = directory
        self.catalog_path = catalog_path
        self._references = references or (lambda catalog: References(catalog=catalog))
        self.catalog: Catalog | None = None
        self._live: dict[str, FlowVersion] = {}
        self._versions: dict[tuple[str, str], FlowVersion] = {}
        self._fingerprint: tuple[tuple[str, int, int], ...] = ()
        self.status = ReloadStatus()

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
        return tuple(out)

    def load(self) -> None:
        """Load everything or raise `FlowError`; the live set changes only when all is valid."""
        stamp = self._stamp()
        catalog = load_catalog(self.catalog_path)
        files = self._files()
        if not files:
            raise FlowError([f"{self.directory}: no flow files (*.yaml)"])
        flows = load_flows(files, self._references(catalog))
        versions: dict[str, FlowVersion] = {}
        for flow_id, flow in flows.items():
            digest = hashlib.sha256(flow.model_dump_json().encode()).hexdigest()[:16]
            versions[flow_id] = FlowVersion(flow, digest)
            self._versions[(flow_id, digest)] = versions[flow_id]
        self.catalog = catalog
        self._live = versions
        self._fingerprint = stamp
        self.status = ReloadStatus(loaded_at=_now(), files=len(files))

    def reload_if_changed(self) -> bool:
        """Reload when a file changed; returns True when a new version went live."""
        if self._stamp() == self._fingerprint:
            return False
        try:
            self.load()
        except FlowError as exc:
            # remember the bad stamp so the same broken edit is reported once
            self._fingerprint = self._stamp()
            self.status.errors = list(exc.errors)
            self.status.rejected_at = _now()
            log.error(
                "flow change rejected; the previous version keeps serving:\n%s",
                "\n".join(exc.errors),
            )
            return False
        log.info("flows reloaded (%d files)", self.status.files)
        return True

    async def watch(self, poll_s: float) -> None:
        """Poll for edits until cancelled (no inotify dependency; edits are rare)."""
        while True:
            await asyncio.sleep(poll_s)
            await asyncio.to_thread(self.reload_if_changed)

    def live(self, flow_id: str) -> FlowVersion:
        return self._live[flow_id]

    def version(self, flow_id: str, digest: str) -> FlowVersion | None:
        return self._versions.get((flow_id, digest))

    def library(self) -> dict[str, Flow]:
        return {fid: v.flow for fid, v in self._live.items()}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
