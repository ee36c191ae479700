"""The call table's rules on their own, with fake sessions: what the socket tests
cannot set up cheaply (a busy device, echoes from other nodes, memory after calls)."""

from __future__ import annotations

from dataclasses import dataclass, field

from chat_trio import codec
from chat_trio.calls import CallTable, Peer, Signal
from chat_trio.model import ContentType


@dataclass(eq=False)
class Device:
    user_uuid: str
    features: frozenset[str] = frozenset()
    got: list[codec.Message] = field(default_factory=list)

    def deliver(self, payload: bytes) -> bool:
        self.got.append(codec.decode(payload))
        return True

    def take(self) -> list[tuple[int, str]]:
        """What arrived since the last take: (content type, reason) each."""
        got, self.got = self.got, []
        return [(m.contentType, m.reason) for m in got]


class Node:
    """One node's call table over a registry of fake devices, recording what it publishes."""

    def __init__(self, *devices: Device) -> None:
        self.devices = list(devices)
        self.published: list[tuple[Signal, tuple[str, ...]]] = []
        self.table = CallTable(self.sessions, self._deliver)
        self.table.publish = self._publish

    @staticmethod
    def _deliver(peer: Peer, payload: bytes) -> None:
        peer.deliver(payload)

    def sessions(self, user: str) -> tuple[Device, ...]:
        return tuple(d for d in self.devices if d.user_uuid == user)

    def _publish(self, payload: bytes, recipients: tuple[str, ...]) -> None:
        signal = Signal.decode(payload)
        assert signal is not None
        self.published.append((signal, recipients))

    def send(self, device: Device, to: str, content_type: int) -> None:
        message = codec.Message(to=to, contentType=content_type, messageType=1)
        setattr(message, "from", device.user_uuid)
        self.table.from_local(
            Signal(codec.encode(message), device.user_uuid, to, content_type, device)
        )


def test_a_busy_device_rejecting_does_not_decline_for_the_ringing_ones() -> None:
    caller, other_caller = Device("a"), Device("c")
    busy, free = Device("b"), Device("b")
    node = Node(caller, other_caller, busy, free)
    node.send(other_caller, "b", ContentType.AUDIO_DIAL)
    node.send(busy, "c", ContentType.AUDIO_ACCEPT)  # busy is in a call with c
    busy.take()
    assert free.take() == [
        (ContentType.AUDIO_DIAL, ""), (ContentType.AUDIO_CANCEL, "answered-elsewhere"),
    ]
    node.send(caller, "b", ContentType.VIDEO_DIAL)
    assert busy.take() == free.take() == [(ContentType.VIDEO_DIAL, "")]
    node.send(busy, "a", ContentType.VIDEO_REJECT)  # a client's automatic "busy"
    assert caller.take() == []
    node.send(free, "a", ContentType.VIDEO_ACCEPT)
    assert caller.take() == [(ContentType.VIDEO_ACCEPT, "")]
    # with no other device ringing, a busy device's reject does reach the caller
    node.send(caller, "b", ContentType.VIDEO_CANCEL)
    node.send(other_caller, "b", ContentType.AUDIO_CANCEL)
    solo_caller, solo_busy = Device("x"), Device("y")
    node.devices += [solo_caller, solo_busy]
    node.send(other_caller, "y", ContentType.AUDIO_DIAL)
    node.send(solo_busy, "c", ContentType.AUDIO_ACCEPT)
    node.send(solo_caller, "y", ContentType.AUDIO_DIAL)
    node.send(solo_busy, "x", ContentType.AUDIO_REJECT)
    assert solo_caller.take() == [(ContentType.AUDIO_REJECT, "")]


def test_echoes_from_other_nodes_keep_this_nodes_devices_out_of_the_call() -> None:
    """b rings on this node and on another; the other answers: the echo silences this
    one, and the caller's later frames, which reach this node too, go nowhere here."""
    here = Device("b")
    node = Node(here)

    def remote(sender: str, to: str, content_type: int, *recipients: str) -> None:
        message = codec.Message(to=to, contentType=content_type, messageType=1)
        setattr(message, "from", sender)
        signal = Signal(codec.encode(message), sender, to, content_type)
        node.table.from_remote(signal, recipients)

    remote("a", "b", ContentType.VIDEO_DIAL, "b")
    assert here.take() == [(ContentType.VIDEO_DIAL, "")]
    remote("b", "a", ContentType.VIDEO_ACCEPT, "b")  # answered on b's other node
    assert here.take() == [(ContentType.VIDEO_CANCEL, "answered-elsewhere")]
    remote("a", "b", ContentType.VIDEO_FRAME, "b")
    assert here.take() == []
    node.send(here, "a", ContentType.VIDEO_REJECT)  # a stray reject: nothing published
    assert node.published == []
    remote("b", "a", ContentType.VIDEO_CANCEL, "b")  # hung up over there
    assert node.table.legs() == 0
    # with no state left, a frame goes to every session, as before call state
    remote("a", "b", ContentType.VIDEO_FRAME, "b")
    assert here.take() == [(ContentType.VIDEO_FRAME, "")]


def test_calls_leave_no_state_behind() -> None:
    a, b1, b2 = Device("a"), Device("b"), Device("b")
    node = Node(a, b1, b2)
    node.send(a, "b", ContentType.AUDIO_DIAL)
    node.send(b1, "a", ContentType.AUDIO_ACCEPT)
    assert node.table.legs() == 2
    assert node.table.readdress(b1, "", ContentType.AUDIO_CANCEL) == "a"
    assert node.table.readdress(b1, "a", ContentType.AUDIO_CANCEL) is None
    assert node.table.readdress(b2, "", ContentType.AUDIO_CANCEL) is None  # not in it
    assert node.table.readdress(b1, "", ContentType.AUDIO_DIAL) is None
    node.send(b1, "a", ContentType.AUDIO_CANCEL)
    assert node.table.legs() == 0
    # a dial nobody answers: the caller's device leaving ends it on both sides
    node.send(a, "b", ContentType.AUDIO_DIAL)
    b1.take()
    node.devices.remove(a)
    node.table.session_left(a)
    assert b1.take() == [(ContentType.AUDIO_CANCEL, "disconnected")]
    assert node.table.legs() == 0
    # a dial to someone with no session here keeps nothing here
    node.send(a, "elsewhere", ContentType.AUDIO_DIAL)
    node.send(a, "elsewhere", ContentType.AUDIO_CANCEL)
    assert node.table.legs() == 0 and node.table._legs == {}
    # the dial and every step were published for the other nodes, echoes included
    assert [(s.step.value, r) for s, r in node.published][:2] == [
        ("dial", ("b", "a")), ("accept", ("a", "b")),
    ]


def test_a_late_accept_is_told_and_not_forwarded() -> None:
    """b2 answers after b1 did (it had not yet heard): the caller hears only b1."""
    a, b1, b2 = Device("a"), Device("b"), Device("b")
    node = Node(a, b1, b2)
    node.send(a, "b", ContentType.VIDEO_DIAL)
    node.send(b1, "a", ContentType.VIDEO_ACCEPT)
    b2.take()
    node.send(b2, "a", ContentType.VIDEO_ACCEPT)
    assert b2.take() == [(ContentType.VIDEO_CANCEL, "answered-elsewhere")]
    assert a.take() == [(ContentType.VIDEO_ACCEPT, "")]
    node.send(b2, "a", ContentType.VIDEO_FRAME)  # nor its media
    assert a.take() == []


def test_a_decline_on_another_node_stops_the_ringing_here() -> None:
    here = Device("b")
    node = Node(here)
    for payload_from, to, content_type in (("a", "b", ContentType.AUDIO_DIAL),
                                           ("b", "a", ContentType.AUDIO_REJECT)):
        message = codec.Message(to=to, contentType=content_type, messageType=1)
        setattr(message, "from", payload_from)
        signal = Signal.decode(codec.encode(message))
        assert signal is not None
        node.table.from_remote(signal, ("b",))
    assert here.take() == [
        (ContentType.AUDIO_DIAL, ""), (ContentType.AUDIO_CANCEL, "declined-elsewhere"),
    ]
    assert node.table.legs() == 0


def test_only_call_frames_decode_as_signals() -> None:
    chat = codec.Message(to="b", content="hi", contentType=ContentType.TEXT)
    setattr(chat, "from", "a")
    assert Signal.decode(codec.encode(chat)) is None
    assert Signal.decode(b"\xff\xff not protobuf") is None
    rtc = codec.Message(to="b", type="webrtc", content="{}")
    assert Signal.decode(codec.encode(rtc)) is None  # no sender
    setattr(rtc, "from", "a")
    assert Signal.decode(codec.encode(rtc)) is not None
