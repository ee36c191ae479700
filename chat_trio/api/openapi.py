"""The HTTP API described as OpenAPI 3.1, served at /openapi.json and as a page at /api-docs.

tests/test_openapi.py keeps it true: every route of the app is documented and
nothing else is, and every documented operation is called on a live server with
its answer checked against the documented schema.
"""

from __future__ import annotations

import html
from typing import Any

from quart import Blueprint, Response, jsonify

from chat_trio import __version__
from chat_trio.languages import SUPPORTED_LANGUAGES

blueprint = Blueprint("openapi", __name__)

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _envelope(data: Schema) -> Schema:
    return {
        "type": "object",
        "required": ["code", "msg", "data"],
        "properties": {"code": {"const": 0}, "msg": {"const": "SUCCESS"}, "data": data},
    }


def _strings(*names: str) -> dict[str, Schema]:
    return {name: {"type": "string"} for name in names}


SCHEMAS: dict[str, Schema] = {
    "Failure": {
        "type": "object",
        "required": ["code", "msg", "data"],
        "properties": {
            "code": {"const": -1},
            "msg": {"type": "string"},
            "data": {"type": "null"},
            "key": {
                "type": "string",
                "description": "the refusal's stable key (docs/protocol.md, Error keys)",
            },
        },
    },
    "User": {
        "type": "object",
        "required": ["uuid", "username", "nickname", "email", "avatar"],
        "properties": {
            **_strings("uuid", "username", "nickname", "email", "avatar"),
            "email": {"type": "string", "description": "empty unless this is the caller"},
            "language": {
                "enum": ["", *SUPPORTED_LANGUAGES],
                "description": "the client language chosen; empty: follow the browser "
                "(and for anyone but the caller)",
            },
        },
    },
    "Login": {
        "type": "object",
        "required": ["uuid", "username", "token"],
        "properties": {
            **_strings("uuid", "username", "nickname", "email", "avatar", "token"),
            "language": {"enum": ["", *SUPPORTED_LANGUAGES]},
        },
    },
    "Group": {
        "type": "object",
        "required": ["uuid", "groupId", "createAt", "name", "notice"],
        "properties": {
            **_strings("uuid", "createAt", "name", "notice"),
            "groupId": {"type": "integer"},
            "userId": {"type": "integer"},
        },
    },
    "Presence": {
        "type": "object",
        "required": ["uuid", "online", "lastSeen"],
        "properties": {
            "uuid": {"type": "string"},
            "online": {"type": "boolean"},
            "lastSeen": {
                "type": ["integer", "null"],
                "description": "when the user's last session ended, ms since the epoch; "
                "null if never recorded",
            },
        },
    },
    "Online": {
        "type": "object",
        "required": ["uuid", "online", "nodes"],
        "properties": {
            "uuid": {"type": "string"},
            "online": {"type": "boolean"},
            "nodes": {"type": "integer", "minimum": 0},
        },
    },
    "Found": {
        "type": "object",
        "required": ["user", "group"],
        "properties": {"user": _ref("User"), "group": _ref("Group")},
    },
    "FriendStatus": {
        "type": "object",
        "required": ["status", "user"],
        "properties": {
            "status": {
                "enum": ["requested", "friends", "none"],
                "description": "where the two stand now",
            },
            "user": _ref("User"),
        },
    },
    "PendingRequest": {
        "type": "object",
        "required": ["user", "createAt"],
        "properties": {"user": _ref("User"), "createAt": {"type": "string"}},
    },
    "PendingRequests": {
        "type": "object",
        "required": ["incoming", "outgoing"],
        "properties": {
            "incoming": {"type": "array", "items": _ref("PendingRequest")},
            "outgoing": {"type": "array", "items": _ref("PendingRequest")},
        },
    },
    "SearchResult": {
        "type": "object",
        "required": ["users", "groups"],
        "properties": {
            "users": {
                "type": "array",
                "items": {
                    "allOf": [_ref("User")],
                    "required": ["relation"],
                    "properties": {
                        "relation": {
                            "enum": ["none", "friend", "incoming", "outgoing", "blocked"]
                        }
                    },
                },
            },
            "groups": {
                "type": "array",
                "items": {
                    "allOf": [_ref("Group")],
                    "required": ["member"],
                    "properties": {"member": {"type": "boolean"}},
                },
            },
        },
    },
    "HistoryItem": {
        "type": "object",
        "required": [
            "id", "fromUserId", "toUserId", "content", "contentType", "url", "createAt",
            "fromUsername", "toUsername", "avatar",
        ],
        "properties": {
            **_strings(
                "fromUserId", "toUserId", "content", "url", "createAt", "fromUsername",
                "toUsername", "avatar",
            ),
            "id": {"type": "integer"},
            "contentType": {"type": "integer"},
            "messageType": {"type": "integer"},
        },
    },
    "SearchPage": {
        "type": "object",
        "required": ["items", "next"],
        "properties": {
            "items": {"type": "array", "items": _ref("SearchHit")},
            "next": {
                "type": ["integer", "null"],
                "description": "the `cursor` of the next page; null when nothing is left",
            },
        },
    },
    "SearchHit": {
        "type": "object",
        "required": [
            "id", "messageType", "conversation", "conversationName", "fromUserId",
            "fromUsername", "createAt", "createdAtMs", "excerpt",
        ],
        "properties": {
            **_strings("conversationName", "fromUserId", "fromUsername", "createAt"),
            "id": {"type": "integer"},
            "messageType": {"enum": [1, 2]},
            "conversation": {
                "type": "string",
                "description": "the other user's uuid (messageType 1) or the group's (2)",
            },
            "createdAtMs": {"type": "integer"},
            "excerpt": {
                "type": "array",
                "description": "plain-text pieces around the first match; show each as "
                "text, styling those with match true",
                "items": {
                    "type": "object",
                    "required": ["text", "match"],
                    "properties": {"text": {"type": "string"}, "match": {"type": "boolean"}},
                },
            },
        },
    },
    "Upload": {
        "type": "object",
        "required": ["name", "contentType", "mime", "size"],
        "properties": {
            "name": {"type": "string"},
            "contentType": {"enum": [2, 3, 4, 5]},
            "mime": {"type": "string"},
            "size": {"type": "integer"},
        },
    },
    "ClientConfig": {
        "type": "object",
        "required": ["iceServers", "heartbeatSeconds", "maxUploadBytes"],
        "properties": {
            "iceServers": {"type": "array", "items": {"type": "object"}},
            "heartbeatSeconds": {"type": "integer"},
            "maxUploadBytes": {"type": "integer"},
            "appName": {"type": "string"},
        },
    },
    "Health": {"type": "object", "required": ["status"], "properties": _strings("status")},
    "Ready": {
        "type": "object",
        "required": ["status", "checks"],
        "properties": {"status": {"type": "string"}, "checks": {"type": "object"}},
    },
}


def _json_body(properties: dict[str, Schema], required: list[str]) -> Schema:
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "required": required, "properties": properties}
            }
        },
    }


def _multipart(*fields: str) -> Schema:
    properties = {f: {"type": "string"} for f in fields if f != "file"}
    properties["file"] = {"type": "string", "format": "binary"}
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["file"], "properties": properties}
            }
        },
    }


def _path(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, required: bool = False, kind: str = "string") -> Schema:
    return {"name": name, "in": "query", "required": required, "schema": {"type": kind}}


_REFUSALS = {
    "400": "bad input",
    "401": "not logged in",
    "403": "not allowed for this user, or sent by a page of another origin",
    "404": "no such thing",
    "408": "the body did not arrive in time",
    "409": "already exists",
    "413": "too large (or over the upload quota)",
    "415": "the body is not Content-Type: application/json",
    "429": "too many attempts",
    "503": "database unavailable",
}


def _op(
    summary: str,
    data: Schema | None,
    *,
    status: str = "200",
    refusals: tuple[str, ...] = ("401",),
    auth: bool = True,
    body: Schema | None = None,
    parameters: list[Schema] | None = None,
    raw: Schema | None = None,
) -> Schema:
    ok: Schema
    if raw is not None:
        ok = {"description": summary, "content": raw}
    else:
        schema = _envelope(data if data is not None else {"type": "null"})
        ok = {"description": "success", "content": {"application/json": {"schema": schema}}}
    responses: dict[str, Schema] = {status: ok}
    for code in refusals:
        responses[code] = {
            "description": _REFUSALS[code],
            "content": {"application/json": {"schema": _ref("Failure")}},
        }
    op: Schema = {"summary": summary, "responses": responses}
    if not auth:
        op["security"] = []
    if body is not None:
        op["requestBody"] = body
    if parameters:
        op["parameters"] = parameters
    return op


def _array(item: str) -> Schema:
    return {"type": "array", "items": _ref(item)}


PATHS: dict[str, dict[str, Schema]] = {
    "/user/register": {
        "post": _op(
            "Create an account", _ref("User"), status="201", auth=False,
            refusals=("400", "409", "413", "429"),
            body=_json_body(_strings("username", "password", "nickname", "email"),
                            ["username", "password"]),
        )
    },
    "/user/login": {
        "post": _op(
            "Log in: answers the user and a token, and sets the session cookie", _ref("Login"),
            auth=False, refusals=("400", "401", "429"),
            body=_json_body(_strings("username", "password"), ["username", "password"]),
        )
    },
    "/user/logout": {"post": _op("Revoke this login", None, auth=False, refusals=())},
    "/user/me": {"get": _op("The logged-in user", _ref("User"))},
    "/user": {
        "get": _op(
            "The caller's friends", _array("User"), refusals=("401", "403"),
            parameters=[_query("uuid")],
        ),
        "put": _op(
            "Change the caller's profile (an empty password keeps it; a new password "
            "needs oldPassword, and ends the caller's other logins)", None,
            refusals=("400", "401", "403", "429"),
            body=_json_body(
                {
                    **_strings("username", "nickname", "email", "password", "oldPassword"),
                    "language": {"enum": ["", *SUPPORTED_LANGUAGES]},
                },
                [],
            ),
        ),
    },
    "/user/name": {
        "get": _op(
            "A user and a group with exactly this name, else the best partial match "
            "(empty fields where nothing matches)",
            _ref("Found"), refusals=("400", "401"), parameters=[_query("name", True)],
        )
    },
    "/user/online": {
        "get": _op(
            "Whether a user has a live session on any node",
            _ref("Online"), refusals=("400", "401"), parameters=[_query("uuid", True)],
        )
    },
    "/presence": {
        "get": _op(
            "Online and last seen of the caller's friends and co-members of small groups, "
            "or of one group's members",
            _array("Presence"), refusals=("401", "403", "404"), parameters=[_query("group")],
        )
    },
    "/user/{uuid}": {
        "get": _op(
            "A user's public details", _ref("User"), refusals=("401", "404"),
            parameters=[_path("uuid")],
        )
    },
    "/friend": {
        "post": _op(
            "go-chat's add friend: sends a friend request, or accepts the one this user "
            "sent the caller", None,
            refusals=("400", "401", "403", "404", "409", "429"),
            body=_json_body(_strings("uuid", "friendUsername"), ["friendUsername"]),
        )
    },
    "/friend/requests": {
        "get": _op("The caller's pending friend requests", _ref("PendingRequests")),
        "post": _op(
            "Ask a user (by uuid or username) to be friends; accepts their request if "
            "they already sent one (then 200, status friends)", _ref("FriendStatus"),
            status="201", refusals=("400", "401", "403", "404", "409", "429"),
            body=_json_body(_strings("uuid", "username"), []),
        ),
    },
    "/friend/requests/{uuid}/accept": {
        "post": _op(
            "Accept the friend request this user sent the caller", _ref("FriendStatus"),
            refusals=("400", "401", "403", "404"), parameters=[_path("uuid")],
        )
    },
    "/friend/requests/{uuid}/decline": {
        "post": _op(
            "Decline the friend request this user sent the caller", _ref("FriendStatus"),
            refusals=("400", "401", "403", "404"), parameters=[_path("uuid")],
        )
    },
    "/friend/requests/{uuid}": {
        "delete": _op(
            "Withdraw the caller's friend request to this user", _ref("FriendStatus"),
            refusals=("400", "401", "403", "404"), parameters=[_path("uuid")],
        )
    },
    "/friend/{uuid}": {
        "delete": _op(
            "End the friendship with this user, on both sides", _ref("FriendStatus"),
            refusals=("400", "401", "404"), parameters=[_path("uuid")],
        )
    },
    "/block": {"get": _op("The users the caller blocked", _array("User"))},
    "/block/{uuid}": {
        "post": _op(
            "Block a user: no 1:1 messages, calls or friend requests either way; ends "
            "the friendship and pending requests", _ref("User"),
            refusals=("400", "401", "404", "409"), parameters=[_path("uuid")],
        ),
        "delete": _op(
            "Lift a block", _ref("User"), refusals=("400", "401", "404"),
            parameters=[_path("uuid")],
        ),
    },
    "/search": {
        "get": _op(
            "People (by username or nickname) and groups whose names contain q, ranked "
            "exact, prefix, substring; at most limit of each (20, up to 50)",
            _ref("SearchResult"), refusals=("400", "401"),
            parameters=[_query("q", True), _query("limit", kind="integer")],
        )
    },
    "/message": {
        "get": _op(
            "History, oldest first: a conversation (MessageType 1) or a group (2)",
            _array("HistoryItem"), refusals=("400", "401", "403", "404"),
            parameters=[
                _query("Uuid", True), _query("MessageType", True), _query("FriendUsername"),
                _query("limit", kind="integer"), _query("before", kind="integer"),
                _query("after", kind="integer"),
            ],
        )
    },
    "/message/since": {
        "get": _op(
            "Catch-up: everything the caller can see after message id `id`, in id order",
            _array("HistoryItem"), refusals=("400", "401"),
            parameters=[_query("id", True, kind="integer"), _query("limit", kind="integer")],
        )
    },
    "/message/search": {
        "get": _op(
            "Full-text search over the text messages the caller may read, newest first "
            "(query grammar: docs/protocol.md, Message search)",
            _ref("SearchPage"), refusals=("400", "401", "404"),
            parameters=[
                _query("q", True), _query("conversation"), _query("sender"),
                _query("after", kind="integer"), _query("before", kind="integer"),
                _query("cursor", kind="integer"), _query("limit", kind="integer"),
            ],
        )
    },
    "/file/{name}": {
        "get": _op(
            "A stored file's bytes", None, auth=False, refusals=("404",),
            parameters=[_path("name")],
            raw={"*/*": {"schema": {"type": "string", "format": "binary"}}},
        )
    },
    "/file": {
        "post": _op(
            "Upload an image as the caller's avatar; answers the stored name",
            {"type": "string"}, refusals=("400", "401", "403", "408", "413", "429"),
            body=_multipart("uuid", "file"),
        )
    },
    "/upload": {
        "post": _op(
            "Upload a chat attachment (typed by its bytes)", _ref("Upload"), status="201",
            refusals=("400", "401", "408", "413", "429"), body=_multipart("file"),
        )
    },
    "/group/{uuid}": {
        "get": _op(
            "The caller's groups", _array("Group"), refusals=("401", "403"),
            parameters=[_path("uuid")],
        ),
        "post": _op(
            "Create a group; the caller is its first member", None, status="201",
            refusals=("400", "401", "403", "409"), parameters=[_path("uuid")],
            body=_json_body(_strings("name", "notice"), ["name"]),
        ),
    },
    "/group/join/{userUuid}/{groupUuid}": {
        "post": _op(
            "Join a group", None, refusals=("401", "403", "404", "409"),
            parameters=[_path("userUuid"), _path("groupUuid")],
        )
    },
    "/group/user/{groupUuid}": {
        "get": _op(
            "A group's members (members only)", _array("User"), refusals=("401", "403", "404"),
            parameters=[_path("groupUuid")],
        )
    },
    "/client-config": {
        "get": _op("Settings for browser clients", _ref("ClientConfig"), auth=False, refusals=())
    },
    "/healthz": {
        "get": _op(
            "The process is up", None, auth=False, refusals=(),
            raw={"application/json": {"schema": _ref("Health")}},
        )
    },
    "/readyz": {
        "get": _op(
            "The database (and bus) can be reached; 503 otherwise", None, auth=False,
            refusals=(), raw={"application/json": {"schema": _ref("Ready")}},
        )
    },
    "/metrics": {
        "get": _op(
            "Prometheus metrics, for [server] metricsAllow addresses or the bearer of "
            "[server] metricsToken", None, auth=False, refusals=("401",),
            raw={"text/plain": {"schema": {"type": "string"}}},
        )
    },
}


# -- read state (api/conversations.py) ---------------------------------------------

SCHEMAS["Conversation"] = {
    "type": "object",
    "required": [
        "kind", "messageType", "uuid", "user", "group", "lastMessage", "lastActivity",
        "readId", "unread", "muted", "peerReadId",
    ],
    "properties": {
        "kind": {"enum": ["user", "group"]},
        "messageType": {"enum": [1, 2]},
        "uuid": {"type": "string"},
        "user": {"oneOf": [_ref("User"), {"type": "null"}]},
        "group": {"oneOf": [_ref("Group"), {"type": "null"}]},
        "lastMessage": {"oneOf": [_ref("HistoryItem"), {"type": "null"}]},
        "lastActivity": {"type": "string"},
        "readId": {"type": "integer", "minimum": 0},
        "unread": {"type": "integer", "minimum": 0},
        "muted": {"type": "boolean"},
        "peerReadId": {
            "type": ["integer", "null"],
            "description": "1:1: the peer's read position; null in a group or when "
            "read receipts are off on either side",
        },
    },
}
SCHEMAS["ConversationPage"] = {
    "type": "object",
    "required": ["items", "next"],
    "properties": {
        "items": _array("Conversation"),
        "next": {
            "type": ["string", "null"],
            "description": "pass as `before` for the next page; null on the last page",
        },
    },
}
SCHEMAS["ReadPosition"] = {
    "type": "object",
    "required": ["readId", "unread", "moved"],
    "properties": {
        "readId": {"type": "integer"},
        "unread": {"type": "integer"},
        "moved": {"type": "boolean"},
    },
}
SCHEMAS["Mute"] = {
    "type": "object",
    "required": ["muted", "changed"],
    "properties": {"muted": {"type": "boolean"}, "changed": {"type": "boolean"}},
}
SCHEMAS["Seen"] = {
    "type": "object",
    "required": ["id", "count", "users"],
    "properties": {
        "id": {"type": "integer"},
        "count": {"type": "integer"},
        "users": _array("User"),
    },
}
SCHEMAS["ReadPositions"] = {
    "type": "object",
    "required": ["items"],
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["user", "readId"],
                "properties": {"user": _ref("User"), "readId": {"type": "integer"}},
            },
        }
    },
}
SCHEMAS["Settings"] = {
    "type": "object",
    "required": ["readReceipts"],
    "properties": {"readReceipts": {"type": "boolean"}},
}
_READ = _op(
    "Move the caller's read position in a conversation up to message `id` (never down); "
    "pushed to the caller's sessions (and, in 1:1, the peer's, receipts allowing)",
    _ref("ReadPosition"), refusals=("400", "401", "403", "404"),
    parameters=[_path("kind"), _path("uuid")],
    body=_json_body({"id": {"type": "integer"}}, ["id"]),
)
PATHS.update({
    "/conversations": {
        "get": _op(
            "The caller's 1:1 and group conversations, newest activity first, with the "
            "last message, unread count, read positions and mute",
            _ref("ConversationPage"), refusals=("400", "401"),
            parameters=[_query("limit", kind="integer"), _query("before")],
        )
    },
    "/conversations/{kind}/{uuid}/read": {"put": _READ, "post": _READ},
    "/conversations/{kind}/{uuid}/reads": {
        "get": _op(
            "The others' read positions in a conversation of the caller (the 1:1 peer or "
            "the group's members who share read receipts and have one)",
            _ref("ReadPositions"), refusals=("401", "403", "404"),
            parameters=[_path("kind"), _path("uuid")],
        )
    },
    "/conversations/{kind}/{uuid}/mute": {
        "put": _op(
            "Mute or unmute a conversation for the caller; pushed to the caller's sessions",
            _ref("Mute"), refusals=("400", "401", "403", "404"),
            parameters=[_path("kind"), _path("uuid")],
            body=_json_body({"muted": {"type": "boolean"}}, ["muted"]),
        )
    },
    "/message/{id}/seen": {
        "get": _op(
            "Who, other than its sender, has read a message (participants with read "
            "receipts on only)", _ref("Seen"), refusals=("401", "403", "404"),
            parameters=[_path("id")],
        )
    },
    "/settings": {
        "get": _op("The caller's settings", _ref("Settings")),
        "put": _op(
            "Change the caller's settings (readReceipts: false hides the caller's read "
            "positions from others and theirs from the caller)", _ref("Settings"),
            refusals=("400", "401"),
            body=_json_body({"readReceipts": {"type": "boolean"}}, ["readReceipts"]),
        ),
    },
})


def _browser_refusals(paths: dict[str, dict[str, Schema]]) -> None:
    """What api/security.py and json_body refuse on every route they guard.

    A state-changing operation from a page of another origin gets 403; a JSON
    body of another type gets 415, and one over ``maxBodyBytes`` gets 413.
    """
    for operations in paths.values():
        for method, op in operations.items():
            wanted = ["403"] if method in ("post", "put", "patch", "delete") else []
            if "application/json" in op.get("requestBody", {}).get("content", {}):
                wanted += ["413", "415"]
            for code in wanted:
                op["responses"].setdefault(
                    code,
                    {
                        "description": _REFUSALS[code],
                        "content": {"application/json": {"schema": _ref("Failure")}},
                    },
                )


_browser_refusals(PATHS)
# Asking a user who had already asked the caller accepts: 200 instead of 201.
_ask = PATHS["/friend/requests"]["post"]["responses"]
_ask["200"] = _ask["201"]


def document() -> Schema:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "chat-trio HTTP API",
            "version": __version__,
            "description": (
                "go-chat's routes with its {code, msg, data} envelope and truthful status "
                "codes. The chat itself runs over the WebSocket at /socket.io "
                "(docs/protocol.md)."
            ),
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "chat_trio_token"},
            },
        },
        "security": [{"bearer": []}, {"cookie": []}],
        "paths": PATHS,
    }


@blueprint.get("/openapi.json")
async def openapi_json() -> Response:
    return jsonify(document())


@blueprint.get("/api-docs")
async def api_docs() -> Response:
    """A plain page listing every operation (no scripts, so it works under the CSP)."""
    rows = []
    for path, operations in PATHS.items():
        for method, op in operations.items():
            codes = ", ".join(op["responses"])
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}"
                f"</code></td><td>{html.escape(op['summary'])}</td><td>{codes}</td></tr>"
            )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>chat-trio API</title>"
        "<style>body{font-family:sans-serif;margin:2em}td{padding:.3em .8em;"
        "border-bottom:1px solid #ddd}</style></head><body><h1>chat-trio HTTP API</h1>"
        "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a> (OpenAPI 3.1). "
        "Every answer is <code>{code, msg, data}</code>.</p><table><tr><th>method</th>"
        "<th>path</th><th>what</th><th>statuses</th></tr>" + "".join(rows) +
        "</table></body></html>"
    )
    return Response(page, mimetype="text/html")
