"""`scripts/asterisk-sandbox mirror`: the sandbox is built from the Debian archive the host's own
apt uses (deb822 `.sources` or one-line `sources.list`), or from HOTLINE_DEBIAN_MIRROR."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "asterisk-sandbox"

DEB822 = """\
Types: deb
# a snapshot of the archive
URIs: http://security.mirror.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://src.mirror.example/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://switched-off.mirror.example/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb deb-src
URIs: http://proxy.internal:3142/debian http://second.mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
"""

ONE_LINE = """\
# the machine's sources
deb-src http://src.mirror.example/debian bookworm main
deb [signed-by=/k/debian.gpg] http://security.mirror.example/debian-security bookworm-security main
deb [ arch=amd64 signed-by=/k/debian.gpg ] https://list.mirror.example/debian/ bookworm main
deb http://later.mirror.example/debian bookworm main
"""


def mirror(apt: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "HOTLINE_DEBIAN_MIRROR"}
    return subprocess.run(
        [str(SCRIPT), "mirror"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**clean, "HOTLINE_APT_ETC": str(apt), **env},
    )


@pytest.fixture
def apt(tmp_path: Path) -> Path:
    (tmp_path / "sources.list.d").mkdir()
    return tmp_path


def test_deb822_sources_give_the_first_enabled_deb_archive_not_security(apt: Path) -> None:
    (apt / "sources.list.d" / "debian.sources").write_text(DEB822)
    result = mirror(apt)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "http://proxy.internal:3142/debian\n"


def test_one_line_sources_skip_options_source_packages_and_security(apt: Path) -> None:
    (apt / "sources.list").write_text(ONE_LINE)
    result = mirror(apt)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "https://list.mirror.example/debian/\n"


def test_sources_are_read_in_apts_order_and_disabled_files_ignored(apt: Path) -> None:
    (apt / "sources.list").write_text("# moved to sources.list.d\n")
    parts = apt / "sources.list.d"
    (parts / "a-tools.list.disabled-by-admin").write_text(
        "deb http://off.mirror.example/x sid main\n"
    )
    (parts / "b-debian.sources").write_text(DEB822)
    (parts / "c-later.list").write_text("deb http://later.mirror.example/debian bookworm main\n")
    result = mirror(apt)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "http://proxy.internal:3142/debian\n"


def test_hotline_debian_mirror_overrides_the_host(apt: Path) -> None:
    (apt / "sources.list").write_text(ONE_LINE)
    result = mirror(apt, HOTLINE_DEBIAN_MIRROR="http://given.mirror.example/debian")
    assert result.stdout == "http://given.mirror.example/debian\n"


def test_no_archive_in_the_host_sources_is_a_clear_error(apt: Path) -> None:
    (apt / "sources.list").write_text("deb-src http://src.mirror.example/debian bookworm main\n")
    (apt / "sources.list.d" / "security.sources").write_text(DEB822.split("\n\n")[0] + "\n")
    result = mirror(apt)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "no Debian archive in the host's apt sources" in result.stderr
    assert "set HOTLINE_DEBIAN_MIRROR" in result.stderr
