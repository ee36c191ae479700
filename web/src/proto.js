// The wire schema, read at runtime from the one source of truth:
// proto/message.proto, bundled as text and parsed by protobufjs.
import protobuf from "protobufjs";
import protoText from "../../proto/message.proto?raw";

const root = protobuf.parse(protoText, { keepCase: true }).root;
export const Message = root.lookupType("protocol.Message");

export function encodeMessage(fields) {
  const err = Message.verify(fields);
  if (err) throw new Error(`bad message: ${err}`);
  return Message.encode(Message.create(fields)).finish();
}

export function decodeMessage(buffer) {
  const msg = Message.decode(new Uint8Array(buffer));
  return Message.toObject(msg, {
    longs: Number,
    defaults: true,
    bytes: Array,
  });
}

// Content types (see docs/protocol.md).
export const CT = {
  TEXT: 1,
  FILE: 2,
  IMAGE: 3,
  AUDIO: 4,
  VIDEO: 5,
  VIDEO_FRAME: 8,
  SCREEN_FRAME: 9,
  AUDIO_DIAL: 11,
  AUDIO_ACCEPT: 12,
  AUDIO_CANCEL: 13,
  AUDIO_REJECT: 14,
  VIDEO_DIAL: 15,
  VIDEO_ACCEPT: 16,
  VIDEO_CANCEL: 17,
  VIDEO_REJECT: 18,
};
