"""The prompt text catalog (`prompts/catalog.yaml`): prompt id to text per language.

The loader checks flows against the ids; the simulator renders prompts as text from it. Audio
file lookup is not done here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ivr.errors import FlowError
from ivr.yamltext import Source, parse_yaml, parse_yaml_bytes, read_yaml

LANGUAGES = ("ja", "en")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class Catalog:
    texts: Mapping[str, Mapping[str, str]]

    def __contains__(self, prompt_id: object) -> bool:
        return prompt_id in self.texts

    def __iter__(self) -> Iterator[str]:
        return iter(self.texts)

    def text(self, prompt_id: str, language: str) -> str:
        """The prompt's text in `language`, falling back to Japanese, then to `[id]`."""
        entry = self.texts.get(prompt_id)
        if entry is None:
            return f"[{prompt_id}]"
        return entry.get(language) or entry.get("ja") or f"[{prompt_id}]"


def parse_catalog(text: str, name: str) -> Catalog:
    return _catalog_of(parse_yaml(text, name))


def _catalog_of(src: Source) -> Catalog:
    texts: dict[str, dict[str, str]] = {}
    if not src.errors and not isinstance(src.data, dict):
        src.error((), "the catalog must be a mapping of prompt id to {ja: ..., en: ...}")
    if isinstance(src.data, dict):
        for prompt_id, entry in src.data.items():
            _parse_entry(src, prompt_id, entry, texts)
    if src.errors:
        raise FlowError(src.errors)
    return Catalog(texts)


def _parse_entry(
    src: Source, prompt_id: str, entry: object, texts: dict[str, dict[str, str]]
) -> None:
    path = (prompt_id,)
    if not _ID.match(prompt_id):
        src.error(path, f"prompt id {prompt_id!r} is not kebab-case")
    if not isinstance(entry, dict):
        src.error(path, f"prompt {prompt_id!r} must map languages to text")
        return
    texts[prompt_id] = {}
    for lang, value in entry.items():
        if lang not in LANGUAGES:
            src.error((*path, lang), f"unknown language {lang!r} (use ja or en)")
        elif not isinstance(value, str) or not value.strip():
            src.error((*path, lang), f"prompt {prompt_id!r} has no {lang} text")
        else:
            texts[prompt_id][lang] = value
    for lang in LANGUAGES:
        if lang not in entry:
            src.error(path, f"prompt {prompt_id!r} has no {lang} text")


def load_catalog(path: str | Path) -> Catalog:
    return _catalog_of(read_yaml(path))


def catalog_from_bytes(raw: bytes, name: str) -> Catalog:
    return _catalog_of(parse_yaml_bytes(raw, name))
