"""Security headers on every answer of the console (pages, API, errors, static files).

The content security policy allows only our own scripts, styles and images (no inline script,
no CDN), forbids framing (clickjacking) and posting forms elsewhere. Every answer but a static
asset is `Cache-Control: no-store`: pages and API answers carry staff and caller data that must
not stay in a shared computer's cache or come back with the back button after log-out.
"""

from __future__ import annotations

from aiohttp import web

STATIC_PREFIX = "/static/"

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith(STATIC_PREFIX):
        response.headers["Cache-Control"] = "no-store"
