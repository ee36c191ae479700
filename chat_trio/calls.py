"""Call state: which local device of whom is ringing for, or in, a call with whom.

A call frame (dial, accept, cancel, reject: content types 11-18; WebRTC
signaling, ``type: "webrtc"``; call, video and screen frames, 6-9) is routed by
this table, not only by its ``to``:

- a dial rings every device of the callee;
- an accept makes that device the one in the call: the callee's other devices
  get a cancel with ``reason: "answered-elsewhere"`` and stop ringing;
- every later frame goes only to the device in the call on each side;
- a reject (or cancel) from a device that is not in the call is dropped (it
  only stops that device ringing), so it cannot end a call another device of
  the same user answered; from a ringing device it declines the call, and the
  callee's other devices get a cancel with ``reason: "declined-elsewhere"``;
- a hang-up, or the disconnection of a device in the call, ends it for the
  other side (a cancel with ``reason: "disconnected"`` for the latter);
- a frame with an empty ``to`` (or one naming someone the call is not with)
  from a device ringing for or in a call goes to that call's peer
  (:meth:`CallTable.readdress`): go-chat's own client sends its answer,
  candidates and reject to whichever chat is open, ``''`` when none is.

Each node keeps the state of its own sessions only, as a *leg* per
``(local user, peer user)``. Call frames cross the bus as before, addressed to
users; the node that receives one applies it to its own legs. Dials, accepts,
rejects and cancels also go to the sender's own other nodes (an *echo*), so a
node where the same user has other devices learns that the call is ringing,
answered or ended elsewhere and keeps those devices out of it. A node with no
leg for a frame (it restarted, or never saw the dial) delivers it to every
session of the addressee, as chat-trio did before it kept call state.

The hub owns the table and calls it from its own task: nothing here awaits,
reads the database or touches a socket except through the callables it is
given. Memory is bounded by the sessions: a leg lives while a local session
rings for it or is in it, or until its user has no session here.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from chat_trio import codec
from chat_trio.errors import ProtocolError
from chat_trio.model import ContentType, FrameType

__all__ = ["CallTable", "Peer", "Signal", "Step", "step_of"]

#: Why the server sent a call frame of its own (the ``reason`` field).
ANSWERED_ELSEWHERE = "answered-elsewhere"
DECLINED_ELSEWHERE = "declined-elsewhere"
DISCONNECTED = "disconnected"


class Peer(Protocol):
    """A live session, as the hub sees it."""

    @property
    def user_uuid(self) -> str: ...

    @property
    def features(self) -> frozenset[str]: ...

    def deliver(self, payload: bytes) -> bool: ...


class Step(enum.Enum):
    """What a call frame does to a call."""

    DIAL = "dial"
    ACCEPT = "accept"
    CANCEL = "cancel"
    REJECT = "reject"
    #: Signaling (offer, answer, candidates) and media frames: the call goes on.
    MEDIA = "media"


_STEPS: dict[int, Step] = {
    ContentType.AUDIO_DIAL: Step.DIAL, ContentType.VIDEO_DIAL: Step.DIAL,
    ContentType.AUDIO_ACCEPT: Step.ACCEPT, ContentType.VIDEO_ACCEPT: Step.ACCEPT,
    ContentType.AUDIO_CANCEL: Step.CANCEL, ContentType.VIDEO_CANCEL: Step.CANCEL,
    ContentType.AUDIO_REJECT: Step.REJECT, ContentType.VIDEO_REJECT: Step.REJECT,
}
_VIDEO = frozenset({
    ContentType.VIDEO_DIAL, ContentType.VIDEO_ACCEPT,
    ContentType.VIDEO_CANCEL, ContentType.VIDEO_REJECT,
})


def step_of(content_type: int) -> Step:
    """The step a relayed frame of this content type takes (its ``type`` does not
    matter: go-chat's client sends dials as ``"webrtc"`` frames too)."""
    return _STEPS.get(content_type, Step.MEDIA)


@dataclass(frozen=True, slots=True)
class Signal:
    """A call frame from user ``sender`` to user ``to``, already encoded."""

    payload: bytes
    sender: str
    to: str
    content_type: int
    #: The local session that sent it; None for a frame from another node.
    origin: Peer | None = None

    @property
    def step(self) -> Step:
        return step_of(self.content_type)

    @staticmethod
    def decode(payload: bytes) -> Signal | None:
        """The signal an encoded relayed frame is (one another node published), or
        None when the bytes are not a call frame."""
        try:
            message = codec.decode(payload)
        except ProtocolError:  # a bad frame from the bus is dropped
            return None
        sender = getattr(message, "from")
        if not sender or not message.to:
            return None
        if message.type != FrameType.WEBRTC and message.contentType < ContentType.AUDIO_ONLINE:
            return None
        return Signal(payload, sender, message.to, message.contentType)


@dataclass(slots=True)
class Leg:
    """One call of a local user with a peer, as this node sees it."""

    user: str
    peer: str
    video: bool
    #: Local sessions of ``user`` being rung for the peer's dial.
    ringing: list[Peer] = field(default_factory=list)
    #: The local session in the call (the dialing one, or the one that answered).
    active: Peer | None = None
    #: The call is ringing, answered or dialed on a device of ``user`` on another node.
    elsewhere: bool = False


def _cancel_frame(sender: str, to: str, video: bool, reason: str) -> bytes:
    """A cancel the server makes: old clients stop ringing, new ones read ``reason``."""
    message = codec.Message(
        to=to,
        contentType=ContentType.VIDEO_CANCEL if video else ContentType.AUDIO_CANCEL,
        messageType=1,
        reason=reason,
    )
    setattr(message, "from", sender)
    return codec.encode(message)


class CallTable:
    """The legs of this node's sessions, and the routing of call frames by them.

    Args:
        sessions: the live local sessions of a user (the hub's registry).
        deliver: hands bytes to one local session (the hub's counted delivery).
    """

    def __init__(
        self,
        sessions: Callable[[str], Sequence[Peer]],
        deliver: Callable[[Peer, bytes], None],
    ) -> None:
        self._sessions = sessions
        self._deliver = deliver
        #: user -> peer -> leg.
        self._legs: dict[str, dict[str, Leg]] = {}
        #: Hands a signal to the other nodes holding sessions of the users named;
        #: must not block (the bus's ``publish_signal``; nothing on one node).
        self.publish: Callable[[bytes, tuple[str, ...]], None] = lambda _p, _r: None

    # -- questions (synchronous, for the intake) ------------------------------

    def peer_of(self, session: Peer) -> str | None:
        """The user ``session`` is in a call with, or else the last one ringing it."""
        ringing: str | None = None
        for leg in self._legs.get(session.user_uuid, {}).values():
            if leg.active is session:
                return leg.peer
            if session in leg.ringing:
                ringing = leg.peer
        return ringing

    def readdress(self, session: Peer, to: str, content_type: int) -> str | None:
        """The user a call frame from ``session`` to ``to`` should go to instead, or
        None to keep ``to``.

        A frame other than a dial, from a device ringing for or in a call, that
        names nobody or someone that call is not with (a group, the user of
        whichever chat the client has open) goes to the call's peer: go-chat's
        client addresses its answer, candidates and reject to the open chat.
        """
        if step_of(content_type) is Step.DIAL:
            return None
        if to and self._leg(session.user_uuid, to) is not None:
            return None
        return self.peer_of(session)

    def legs(self) -> int:
        """How many legs are held (for tests and statistics)."""
        return sum(len(by_peer) for by_peer in self._legs.values())

    # -- events -----------------------------------------------------------------

    def from_local(self, signal: Signal) -> None:
        """A call frame a session of this node sent."""
        s = signal.origin
        assert s is not None
        user, peer = signal.sender, signal.to
        leg = self._leg(user, peer)
        step = signal.step
        if step is Step.DIAL:
            self._put(Leg(user, peer, signal.content_type in _VIDEO, active=s))
            self._forward(signal, echo=True)
            return
        if leg is None:
            self._forward(signal, echo=False)  # no state here: as before
            return
        if step is Step.MEDIA:
            if leg.active is s or (leg.active is None and not leg.elsewhere and s in leg.ringing):
                self._forward(signal, echo=False)
            return
        if step is Step.ACCEPT:
            if leg.active is not None or leg.elsewhere or s not in leg.ringing:
                self._drop_ringing(leg, s)  # answered on another device already
                self._deliver(s, _cancel_frame(peer, user, leg.video, ANSWERED_ELSEWHERE))
                return
            leg.active = s
            self._stop_ringing(leg, ANSWERED_ELSEWHERE, but=s)
            self._forward(signal, echo=True)
            return
        # A reject or a cancel.
        if leg.active is s:
            self._end(leg)
            self._forward(signal, echo=True)
            return
        if (
            leg.active is None and not leg.elsewhere and s in leg.ringing
            and not (self._busy(s, leg) and len(leg.ringing) > 1)
        ):
            self._stop_ringing(leg, DECLINED_ELSEWHERE, but=s)
            self._end(leg)
            self._forward(signal, echo=True)
            return
        # Not in the call (or busy in another while other devices ring): only
        # this device stops ringing; the call goes on.
        self._drop_ringing(leg, s)

    def from_remote(self, signal: Signal, recipients: Sequence[str]) -> None:
        """A call frame another node sent to these users' sessions here."""
        for user in recipients:
            if user == signal.sender:
                self._echo(signal)
            elif user == signal.to:
                self._arrive(signal)

    def session_left(self, session: Peer) -> None:
        """A local session closed: a call it was in ends for the other side."""
        user = session.user_uuid
        by_peer = self._legs.get(user)
        if by_peer is None:
            return
        for leg in list(by_peer.values()):
            if leg.active is session:
                self._end(leg)
                frame = _cancel_frame(user, leg.peer, leg.video, DISCONNECTED)
                content_type = ContentType.VIDEO_CANCEL if leg.video else ContentType.AUDIO_CANCEL
                self._forward(Signal(frame, user, leg.peer, content_type), echo=True)
            elif session in leg.ringing:
                self._drop_ringing(leg, session)
        if not any(s is not session for s in self._sessions(user)):
            self._legs.pop(user, None)  # nobody left here to route for

    # -- the rules for frames from other nodes --------------------------------

    def _arrive(self, signal: Signal) -> None:
        """A frame from the peer to a local user (the addressee)."""
        user, peer = signal.to, signal.sender
        step = signal.step
        leg = self._leg(user, peer)
        if step is Step.DIAL:
            ringing = list(self._sessions(user))
            if not ringing:
                return  # the callee has no session here: nothing to ring or route
            self._put(Leg(user, peer, signal.content_type in _VIDEO, ringing=ringing))
            for s in ringing:
                self._deliver(s, signal.payload)
            return
        if leg is None:
            for s in self._sessions(user):  # no state here: as before
                self._deliver(s, signal.payload)
            return
        targets = [leg.active] if leg.active is not None else []
        if leg.active is None and not leg.elsewhere:
            targets = list(leg.ringing)  # not answered yet: every ringing device
        if step in (Step.CANCEL, Step.REJECT):
            self._end(leg)
        for s in targets:
            self._deliver(s, signal.payload)

    def _echo(self, signal: Signal) -> None:
        """A frame a device of a local user sent from another node."""
        user, peer = signal.sender, signal.to
        step = signal.step
        leg = self._leg(user, peer)
        if step is Step.DIAL:
            self._put(Leg(user, peer, signal.content_type in _VIDEO, elsewhere=True))
            return
        if leg is None:
            return
        if step is Step.ACCEPT:
            self._stop_ringing(leg, ANSWERED_ELSEWHERE)
            leg.elsewhere = True
        elif step in (Step.CANCEL, Step.REJECT):
            if leg.active is None and not leg.elsewhere:
                self._stop_ringing(leg, DECLINED_ELSEWHERE)
            self._end(leg)

    # -- helpers ----------------------------------------------------------------

    def _forward(self, signal: Signal, *, echo: bool) -> None:
        """To the peer's sessions here and elsewhere (and the sender's other nodes)."""
        self._arrive(signal)
        recipients = (signal.to, signal.sender) if echo else (signal.to,)
        self.publish(signal.payload, recipients)

    def _leg(self, user: str, peer: str) -> Leg | None:
        return self._legs.get(user, {}).get(peer)

    def _put(self, leg: Leg) -> None:
        self._legs.setdefault(leg.user, {})[leg.peer] = leg

    def _end(self, leg: Leg) -> None:
        by_peer = self._legs.get(leg.user)
        if by_peer is not None and by_peer.get(leg.peer) is leg:
            del by_peer[leg.peer]
            if not by_peer:
                del self._legs[leg.user]

    def _drop_ringing(self, leg: Leg, session: Peer) -> None:
        if session in leg.ringing:
            leg.ringing.remove(session)
        if leg.active is None and not leg.elsewhere and not leg.ringing:
            self._end(leg)

    def _stop_ringing(self, leg: Leg, reason: str, *, but: Peer | None = None) -> None:
        """Tell every ringing device but ``but`` why it stops ringing."""
        frame = _cancel_frame(leg.peer, leg.user, leg.video, reason)
        for s in leg.ringing:
            if s is not but:
                self._deliver(s, frame)
        leg.ringing = []

    def _busy(self, session: Peer, leg: Leg) -> bool:
        """Whether ``session`` is in another call than ``leg``'s."""
        return any(
            other is not leg and other.active is session
            for other in self._legs.get(session.user_uuid, {}).values()
        )
