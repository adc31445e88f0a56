"""The one exception tree of the engine.

    HotlineError
    ├── ConfigError              config.yaml or the environment is invalid (names the key path)
    ├── FlowError                a dialplan YAML file is invalid (carries file:line messages)
    └── AriError                 Asterisk answered a REST request with an error status
        ├── AriBadRequest        400: a parameter is wrong (our bug)
        ├── AriUnauthorized      401: wrong ARI credentials
        ├── ChannelGone          404: the channel (or bridge, playback) no longer exists —
        │                             normal when the caller hangs up mid-request
        ├── NotInStasis          409: the channel is not in our Stasis application
        ├── AriUnprocessable     422: the request cannot be done in the current state
        └── AriServerError       5xx: Asterisk failed
    AriUnavailable               ARI cannot be reached at all (connection refused, timeout)
    └── Fenced                   not sent: this engine cannot prove it holds the leader lock
    InvalidNumber                a customer or confirmation number fails its check digit / format
    IntakeRejected               an intake request failed validation (carries per-field errors)
    BillingError                 the billing system did not take a delivery
    ├── BillingUnavailable       transient: refused, timed out, 5xx, 408/429 — retried by the outbox
    └── BillingRejected          permanent: billing refused the request (4xx) — dead-lettered
    Detached                     the engine is stopping: leave the call as it is in Asterisk

`AriUnavailable` is a `HotlineError` too; it is not an `AriError` because there is no status.
"""

from __future__ import annotations


class HotlineError(Exception):
    """Base of every error the engine raises on purpose."""


class ConfigError(HotlineError):
    """The configuration is invalid; the message names the key path."""


class FlowError(HotlineError):
    """A flow file is invalid. `errors` holds every `file:line: message` found."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class AriUnavailable(HotlineError):
    """ARI could not be reached (refused, reset, timed out)."""


class Fenced(AriUnavailable):
    """A REST request was not sent: this engine's right to act (`ivr.leader`) has run out, so
    another engine may be driving the calls. Handled like an unreachable Asterisk by the callers
    of the request; the engine ends itself within one check of the lock."""


class AriError(HotlineError):
    """Asterisk answered an ARI request with an error status."""

    def __init__(self, status: int, method: str, path: str, message: str) -> None:
        super().__init__(f"{method} {path}: {status} {message}")
        self.status = status
        self.method = method
        self.path = path
        self.message = message


class AriBadRequest(AriError):
    """400: a parameter is missing or wrong."""


class AriUnauthorized(AriError):
    """401: the ARI user or password is wrong."""


class ChannelGone(AriError):
    """404: the channel, bridge or playback does not exist (often: the caller hung up)."""


class NotInStasis(AriError):
    """409: the channel is not in our Stasis application."""


class AriUnprocessable(AriError):
    """422: the request is valid but cannot be done now."""


class AriServerError(AriError):
    """5xx: Asterisk failed to carry out the request."""


class InvalidNumber(HotlineError):
    """A customer number or confirmation number has the wrong format or check digit."""


class IntakeRejected(HotlineError):
    """An intake request failed validation; nothing was written.

    `errors` maps each offending field to a stable error code (``required``, ``in_the_past``,
    ``too_soon``, ``unknown_premise``...) that the IVR maps to a prompt and the web to a message.
    """

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("intake rejected: " + ", ".join(f"{k}={v}" for k, v in errors.items()))
        self.errors = errors


class BillingError(HotlineError):
    """The billing system did not accept a delivery."""


class BillingUnavailable(BillingError):
    """Billing could not be reached or failed transiently; the outbox retries later."""


class BillingRejected(BillingError):
    """Billing refused the request permanently; the outbox dead-letters it."""


_BY_STATUS: dict[int, type[AriError]] = {
    400: AriBadRequest,
    401: AriUnauthorized,
    404: ChannelGone,
    409: NotInStasis,
    422: AriUnprocessable,
}


def ari_error(status: int, method: str, path: str, message: str) -> AriError:
    """Map an HTTP status to the most specific `AriError` subclass."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = AriServerError if status >= 500 else AriError
    return cls(status, method, path, message)


class Detached(HotlineError):
    """The engine is stopping while a call waits for its next event: whoever handles the call
    leaves it exactly as it is in Asterisk (bridged, ringing, on hold); the next engine
    re-adopts it. Raised by `CallHandle.next_event`; never end a call because of it."""
