"""CPU to turn one ARI event into its typed model, on events recorded from a real call.

    .venv/bin/python bench/ari_events.py

The events (tests/unit/data/ari_events_call.json) are one sandbox call's: StasisStart, a key
press, playbacks, the hang-up. Compared in one run: `parse_event_json` (pydantic-core reads the
JSON and validates in one pass, as the events reader does), `json.loads` alone (the floor for any
path that decodes to dicts first), and that decode followed by `model_construct` of the channel
(the "skip validation" fast path). Prints microseconds per event; asserts nothing.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ivr.ari.models import CallerId, Channel, DialplanCep, parse_event_json

EVENTS = Path(__file__).resolve().parents[1] / "tests/unit/data/ari_events_call.json"
ROUNDS = 7
PER_ROUND = 20_000


def _construct(text: str) -> Any:
    data = json.loads(text)
    channel = data.get("channel")
    if channel is None:
        return data
    return Channel.model_construct(
        id=channel["id"],
        name=channel["name"],
        state=channel["state"],
        caller=CallerId.model_construct(**channel["caller"]),
        connected=CallerId.model_construct(**channel["connected"]),
        dialplan=DialplanCep.model_construct(**channel["dialplan"]),
        language=channel["language"],
        creationtime=channel["creationtime"],
    )


def _time(parse: Callable[[str], object], texts: list[str]) -> float:
    """Median over rounds of microseconds per event."""
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(PER_ROUND // len(texts)):
            for text in texts:
                parse(text)
        rounds.append((time.perf_counter() - started) / PER_ROUND * 1e6)
    return statistics.median(rounds)


def main() -> None:
    texts = [json.dumps(event) for event in json.loads(EVENTS.read_text())]
    ways: dict[str, Callable[[str], object]] = {
        "parse_event_json (pydantic-core, one pass)": parse_event_json,
        "json.loads alone": json.loads,
        "json.loads + model_construct": _construct,
    }
    # interleaved, so a busy neighbour on the machine slows each way alike
    results: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(3):
        for name, parse in ways.items():
            results[name].append(_time(parse, texts))
    print(f"{len(texts)} recorded events, median of {ROUNDS} rounds x 3 interleaved runs")
    for name, values in results.items():
        print(f"  {name:45s} {statistics.median(values):6.1f} us per event")


if __name__ == "__main__":
    main()
