"""`@rate_limit(...)`: a per-route limit enforced by Armature's Rust rate-limit layer.

```python
@router.get("/search")
@rate_limit("10/minute")            # or rate_limit(10, per="minute", burst=20)
async def search(q: str) -> list: ...
```

Refused requests get `429 Too Many Requests` with `Retry-After` (and the IETF `RateLimit`,
`RateLimit-Policy` headers on every answer) from Rust, without reaching Python. Requests are
counted per client IP (or per `key_header` value) with GCRA in this process: with
`workers=N` each worker process has its own budget.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Optional, Sequence, TypeVar, Union

F = TypeVar("F", bound=Callable[..., Any])

ATTRIBUTE = "__armature_rate_limit__"

_PERIODS = {
    "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
}
_LIMIT = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*$")


def _period(per: Union[str, float]) -> float:
    if isinstance(per, (int, float)):
        return float(per)
    try:
        return _PERIODS[per.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown rate-limit period {per!r}: second, minute, hour, day or a number of seconds") from None


def rate_limit(
    limit: Union[str, int],
    per: Union[str, float] = "minute",
    *,
    burst: Optional[int] = None,
    key_header: Optional[str] = None,
    trust_proxies: Sequence[str] = (),
    name: str = "default",
    x_ratelimit_headers: bool = False,
) -> Callable[[F], F]:
    """Limits the decorated route to `limit` requests `per` period, per client.

    `limit` is a count (`rate_limit(5, per="second")`) or a string like `"5/second"`,
    `"100 per minute"`, `"1000/hour"`, `"10/30s"`. `burst` is how many may come at once
    (default: `limit`). Clients are keyed by their IP address, or by the value of
    `key_header` (e.g. `"x-api-key"`; requests without it are not limited, requests sending it twice get `400`); behind proxies,
    list them in `trust_proxies` (addresses or CIDR networks) to key by the forwarded address.
    Bad settings are a `ValueError` from the Rust builder when the app is built.
    """
    if isinstance(limit, str):
        match = _LIMIT.match(limit.lower())
        if not match:
            raise ValueError(f"cannot read rate limit {limit!r}: write it like '5/second' or '100 per minute'")
        count = int(match.group(1))
        period = float(match.group(2) or 1) * _period(match.group(3))
    else:
        count, period = int(limit), _period(per)
    options = {
        "count": count,
        "period": period,
        "burst": burst,
        "key_header": key_header,
        "trust_proxies": list(trust_proxies),
        "name": name,
        "x_ratelimit_headers": x_ratelimit_headers,
    }

    def decorate(handler: F) -> F:
        setattr(handler, ATTRIBUTE, options)
        return handler

    return decorate


def options_of(handler: Callable[..., Any]) -> Optional[dict[str, Any]]:
    return getattr(handler, ATTRIBUTE, None)
