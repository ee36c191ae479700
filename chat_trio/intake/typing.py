"""Typing indicators: ephemeral, rate-limited, relayed to the conversation, never stored.

A client sends ``{type: "typing", to: <user or group>, messageType: 1 | 2}`` while
its user types (``content`` empty or ``"start"``) and ``content: "stop"`` when
the user stops without sending. The frame is authorized as a chat message to
the same conversation would be (an existing user; a group the sender is in),
has already been charged to the session's flood budget, and is then forwarded,
or silently dropped when it says nothing new:

- a start goes out at most once per :data:`INTERVAL` seconds per session and
  conversation (a client may send one per keystroke);
- a stop goes out only after a start that went out, once.

One-to-one it goes to the peer's sessions (``from`` = the sender, ``to`` = the
peer), in a group to every other member's, rewritten like a group message
(``from`` = the group, ``to`` = the sender, ``fromUsername`` the sender's), on
this node and through the bus on the others. Clients clear an indicator on a
stop, on a message from that sender in that conversation, or
:data:`SHOW_SECONDS` after the last start.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import trio

from chat_trio import codec, features
from chat_trio.bus import Bus
from chat_trio.directory import Directory
from chat_trio.errors import ProtocolError
from chat_trio.hub import Fanout, HubEvent
from chat_trio.intake import authorize
from chat_trio.model import MessageType, User
from chat_trio.session import Session

__all__ = ["INTERVAL", "SHOW_SECONDS", "TYPING", "TypingRelay"]

TYPING = features.TYPING  #: the frame's ``type``, and the feature that asks for it
START, STOP = "start", "stop"
#: Seconds between two starts forwarded for one session and conversation.
INTERVAL = 2.0
#: How long a client shows an indicator after the last start it got (docs only).
SHOW_SECONDS = 6
#: Conversations remembered per session; the oldest is forgotten past this.
MAX_CONVERSATIONS = 32


@dataclass(slots=True)
class _Typing:
    started_at: float
    #: A start went out and no stop after it.
    open: bool = True


class TypingRelay:
    """Forwards typing frames. The rate state is per session, dropped with it."""

    def __init__(
        self, directory: Directory, hub_inbox: trio.MemorySendChannel[HubEvent], bus: Bus
    ) -> None:
        self._directory = directory
        self._hub_inbox = hub_inbox
        self._bus = bus
        self._state: weakref.WeakKeyDictionary[Session, dict[tuple[int, str], _Typing]] = (
            weakref.WeakKeyDictionary()
        )

    async def handle(self, session: Session, sender: User, message: codec.Message) -> bool:
        """Forward one typing frame, or drop it as a repeat; True if it went out.

        Raises:
            ProtocolError: as a chat message to the same ``to`` would be refused
                (403, 404, 400), or 400 for a ``content`` other than start or stop.
        """
        content = message.content or START
        if content not in (START, STOP):
            raise ProtocolError(400, 'a typing frame\'s content is "start" or "stop"')
        addressee = await authorize.chat_addressee(self._directory, sender, message)
        if not self._passes(session, (message.messageType, message.to), content == STOP):
            return False
        out = codec.Message(
            type=TYPING, content=content, messageType=message.messageType,
            fromUsername=sender.username, avatar=sender.avatar,
        )
        recipients = tuple(r for r in addressee.recipients if r != sender.uuid)
        if message.messageType == MessageType.GROUP:
            setattr(out, "from", message.to)
            out.to = sender.uuid
        else:
            setattr(out, "from", sender.uuid)
            out.to = message.to
        if recipients:
            frame = codec.encode(out)
            await self._hub_inbox.send(Fanout(frame, recipients, feature=features.TYPING))
            self._bus.publish_notice(frame, recipients, features.TYPING)
        return True

    def _passes(self, session: Session, conversation: tuple[int, str], stop: bool) -> bool:
        states = self._state.get(session)
        if states is None:
            states = self._state[session] = {}
        now = trio.current_time()
        state = states.get(conversation)
        if stop:
            if state is None or not state.open:
                return False
            state.open = False
            return True
        if state is not None and now - state.started_at < INTERVAL:
            return False
        if state is None and len(states) >= MAX_CONVERSATIONS:
            del states[next(iter(states))]
        states[conversation] = _Typing(now)
        return True
