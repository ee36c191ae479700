"""Operations: liveness, readiness and Prometheus metrics.

``/healthz`` answers while the process runs; ``/readyz`` answers 200 only when
the database (and, with several nodes, the bus) can be reached, so a load
balancer sends no users to a node that cannot store their messages.

``/metrics`` tells who is online how much and how the server is doing, so it
answers only clients in ``[server] metricsAllow`` (loopback by default; the
client address behind trusted proxies, see api/client_address.py) or a request
carrying ``Authorization: Bearer <[server] metricsToken>``; anyone else gets 401.
"""

from __future__ import annotations

import functools
import hmac

import trio
from quart import Blueprint, Response, jsonify, request

from chat_trio.api.client_address import Network, address_in, parse_networks, request_address
from chat_trio.api.common import services
from chat_trio.errors import ProtocolError, StorageError
from chat_trio.metrics import CONTENT_TYPE

blueprint = Blueprint("ops", __name__)

#: Seconds a readiness probe waits for the database.
READY_TIMEOUT = 2.0


@blueprint.get("/healthz")
async def healthz() -> Response:
    return jsonify({"status": "ok"})


@blueprint.get("/readyz")
async def readyz() -> Response:
    checks: dict[str, str] = {}
    try:
        with trio.fail_after(READY_TIMEOUT):
            await services().store.ping()
        checks["database"] = "ok"
    except (StorageError, trio.TooSlowError) as exc:
        checks["database"] = f"unreachable: {exc or 'timed out'}"
    checks["bus"] = services().bus.health()
    ready = all(v == "ok" for v in checks.values())
    response = jsonify({"status": "ready" if ready else "not ready", "checks": checks})
    response.status_code = 200 if ready else 503
    return response


@functools.lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(entries)


def metrics_allowed() -> bool:
    """Whether the current request may read /metrics (see the module docstring)."""
    server = services().config.server
    if server.metrics_token:
        header = request.headers.get("Authorization", "")
        offered = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if offered and hmac.compare_digest(offered.encode(), server.metrics_token.encode()):
            return True
    return address_in(request_address(), _networks(server.metrics_allow))


@blueprint.get("/metrics")
async def metrics() -> Response:
    if not metrics_allowed():
        raise ProtocolError(
            401, "metrics are for allowed addresses or the bearer of the metrics token"
        )
    return Response(services().metrics.exposition(), mimetype=None, content_type=CONTENT_TYPE)


async def count_request(response: Response) -> Response:
    """after_request hook: one count per request, by route pattern (not raw path)."""
    rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
    services().metrics.http_requests.labels(rule, request.method, str(response.status_code)).inc()
    return response
