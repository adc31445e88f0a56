"""The agent console in a browser (aiohttp): sign-in, roles, server-side sessions, the landing
pages of agents, supervisors and admins, and the `/api/v1` REST API.

`create_app` (ivr.web.app) builds the aiohttp application on a database engine and a clock;
`serve_console` (ivr.web.server) serves it on `console.host:port` for as long as its context is
open. Every route declares who may open it (ivr.web.access); nothing is open by default.
"""

from ivr.web.app import create_app
from ivr.web.server import ConsoleSite, serve_console

__all__ = ["ConsoleSite", "create_app", "serve_console"]
