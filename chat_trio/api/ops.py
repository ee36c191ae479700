"""Operations: liveness, readiness and Prometheus metrics.

``/healthz`` answers while the process runs; ``/readyz`` answers 200 only when
the database (and, with several nodes, the bus) can be reached, so a load
balancer sends no users to a node that cannot store their messages.
"""

from __future__ import annotations

import trio
from quart import Blueprint, Response, jsonify, request

from chat_trio.api.common import services
from chat_trio.errors import StorageError
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


@blueprint.get("/metrics")
async def metrics() -> Response:
    return Response(services().metrics.exposition(), mimetype=None, content_type=CONTENT_TYPE)


async def count_request(response: Response) -> Response:
    """after_request hook: one count per request, by route pattern (not raw path)."""
    rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
    services().metrics.http_requests.labels(rule, request.method, str(response.status_code)).inc()
    return response
