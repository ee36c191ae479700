"""The languages the web client speaks, and the check of a user's choice.

The choice is stored with the user (``users.language``) so that every device the
user logs in on shows the same language. "" means no choice: the client follows
the browser's language. The client keeps one locale file per tag here
(web/src/locales/<tag>.json); a test keeps the two lists equal.
"""

from __future__ import annotations

from chat_trio.errors import ProtocolError

#: BCP 47 tags of the client's languages: English, Simplified Chinese, Spanish.
SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "zh", "es")


def check_language(value: object) -> str:
    """``value`` if it is a supported tag or "" (follow the browser).

    Raises:
        ProtocolError: 400 with key ``unsupported_language`` otherwise, naming the
            tags that are accepted.
    """
    if value is None:
        return ""
    if isinstance(value, str) and (value == "" or value in SUPPORTED_LANGUAGES):
        return value
    raise ProtocolError(
        400,
        f"`language` must be one of {', '.join(SUPPORTED_LANGUAGES)} "
        '(or "" to follow the browser)',
        key="unsupported_language",
    )
