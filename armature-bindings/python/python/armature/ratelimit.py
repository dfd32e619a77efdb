"""`@rate_limit(...)`: a per-route limit enforced by Armature's Rust rate-limit layer.

```python
@router.get("/search")
@rate_limit("10/minute")            # or rate_limit(10, per="minute", burst=20)
async def search(q: str) -> list: ...
```

Refused requests get `429 Too Many Requests` with `Retry-After` (and the IETF `RateLimit`,
`RateLimit-Policy` headers on every answer) from Rust, without reaching Python. Requests are
counted per client IP (or per `key_header` value) with GCRA, in this process (with
`workers=N` each worker process has its own budget) or, with `redis="redis://..."`, in
Redis, shared by every worker, process and machine that uses it:

```python
@rate_limit("100/minute", redis="redis://127.0.0.1:6379/0", name="search")
```
"""

from __future__ import annotations

import re
from typing import Any, Callable, Literal, Optional, Sequence, TypeVar, Union

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
    redis: Optional[str] = None,
    redis_on_failure: Optional[Literal["open", "closed"]] = None,
    redis_prefix: Optional[str] = None,
) -> Callable[[F], F]:
    """Limits the decorated route to `limit` requests `per` period, per client.

    `limit` is a count (`rate_limit(5, per="second")`) or a string like `"5/second"`,
    `"100 per minute"`, `"1000/hour"`, `"10/30s"`. `burst` is how many may come at once
    (default: `limit`). Clients are keyed by their IP address, or by the value of
    `key_header` (e.g. `"x-api-key"`; requests without it are not limited, requests sending it twice get `400`); behind proxies,
    list them in `trust_proxies` (addresses or CIDR networks) to key by the forwarded address.
    `name` is the policy's name in the `RateLimit-Policy` / `RateLimit` headers (letters,
    digits, `-`, `_`, `.`).

    With `redis` (a URL like `"redis://127.0.0.1:6379/0"` or `"redis://:password@host/0"`) the
    counts live in that Redis, under the key `{redis_prefix}{name}:{client}`, so every
    worker and process using it shares one budget per client; limits with the same `name`
    share it across routes too, so name each route's limit. `redis_prefix` defaults to
    `"armature:ratelimit:"`. The app connects on the first request, and while Redis is
    unreachable `redis_on_failure` decides: `"open"` (the default) admits the request,
    `"closed"` refuses it with `429` and `Retry-After: 1`; neither carries `RateLimit`
    headers then, and Redis is asked again at most every 250 ms.

    Bad settings (a zero count, a malformed name, header, proxy or Redis URL, an unknown
    `redis_on_failure`) are a `ValueError` from the Rust builder when the app is built;
    `redis_on_failure` or `redis_prefix` without `redis` is a `TypeError` here.
    """
    if isinstance(limit, str):
        match = _LIMIT.match(limit.lower())
        if not match:
            raise ValueError(f"cannot read rate limit {limit!r}: write it like '5/second' or '100 per minute'")
        count = int(match.group(1))
        period = float(match.group(2) or 1) * _period(match.group(3))
    else:
        count, period = int(limit), _period(per)
    if redis is None:
        given = [k for k, v in (("redis_on_failure", redis_on_failure), ("redis_prefix", redis_prefix)) if v is not None]
        if given:
            raise TypeError(f"rate_limit(): {' and '.join(given)} only apply with redis='redis://...'")
    elif not isinstance(redis, str):
        raise TypeError(f"rate_limit(): redis must be a URL like 'redis://127.0.0.1:6379/0', not {redis!r}")
    options = {
        "count": count,
        "period": period,
        "burst": burst,
        "key_header": key_header,
        "trust_proxies": list(trust_proxies),
        "name": name,
        "x_ratelimit_headers": x_ratelimit_headers,
        "redis": redis,
        "redis_on_failure": redis_on_failure,
        "redis_prefix": redis_prefix,
    }

    def decorate(handler: F) -> F:
        setattr(handler, ATTRIBUTE, options)
        return handler

    return decorate


def options_of(handler: Callable[..., Any]) -> Optional[dict[str, Any]]:
    return getattr(handler, ATTRIBUTE, None)
