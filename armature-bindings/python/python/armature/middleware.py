"""The preset layers, configured from Python and run in Rust.

The stack is always, from the outside in: request id → logger → CORS → router, whatever
order `add_middleware` is called in. Request ids are always on (`x-request-id` on every
response, `req.request_id` in handlers); the logger and CORS when added.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence


class CORSMiddleware:
    """Cross-origin resource sharing, by Armature's Rust CORS layer (Fetch-standard
    preflights, answered by the layer with 204). `"*"` in a list means any. Combinations
    browsers would reject (a wildcard with `allow_credentials=True`, say) are a `ValueError`
    when the app is built, where Starlette would silently mirror the origin."""

    def __init__(
        self,
        allow_origins: Sequence[str] = (),
        allow_methods: Sequence[str] = ("GET",),
        allow_headers: Sequence[str] = (),
        allow_credentials: bool = False,
        expose_headers: Sequence[str] = (),
        max_age: Optional[int] = 600,
    ) -> None:
        self.options: dict[str, Any] = {
            "allow_origins": list(allow_origins),
            "allow_methods": list(allow_methods),
            "allow_headers": list(allow_headers),
            "allow_credentials": bool(allow_credentials),
            "expose_headers": list(expose_headers),
            "max_age": max_age,
        }


class LoggerMiddleware:
    """One access-log line per request (target `armature::access`, to stderr) by the Rust
    logger layer: method, route template, status, latency, size, request id, peer.
    `format` is `"text"` or `"json"`; `ARMATURE_LOG` (or `RUST_LOG`) filters, default `info`."""

    def __init__(self, level: str = "info", format: str = "text") -> None:
        self.level = level
        self.format = format
