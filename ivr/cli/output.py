"""What several commands share: writing a generated document to a file or to stdout."""

from __future__ import annotations

import sys
from pathlib import Path


def write_document(text: str, output: str | None) -> int:
    """`text` into the file `output`, or on stdout when no file is given; the exit code."""
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
