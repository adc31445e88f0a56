"""The ARI port: typed events and resources, our aiohttp client, and an in-memory fake."""

from ivr.ari.client import AriClient, Backoff, Disconnected, Resynced, StreamItem
from ivr.ari.models import AriEvent, Channel, UnknownEvent, event_channel_id, parse_event
from ivr.ari.port import AriPort

__all__ = [
    "AriClient",
    "AriEvent",
    "AriPort",
    "Backoff",
    "Channel",
    "Disconnected",
    "Resynced",
    "StreamItem",
    "UnknownEvent",
    "event_channel_id",
    "parse_event",
]
