// The wire schema, read from the one source of truth: proto/message.proto,
// bundled as text and parsed by protobufjs.
//
// protobufjs normally compiles an encoder and decoder per message type with
// `new Function`, which the server's Content-Security-Policy (script-src
// 'self', no 'unsafe-eval') forbids. So the frames are encoded and decoded
// here by walking the parsed fields with protobufjs's Reader and Writer,
// which need no eval. The schema's scalar types are all this has to know.
import protobuf from "protobufjs";
import protoText from "../../proto/message.proto?raw";

const root = protobuf.parse(protoText, { keepCase: true }).root;
export const Message = root.lookupType("protocol.Message");

const WIRE = { string: 2, bytes: 2, int32: 0, int64: 0, uint32: 0, uint64: 0, bool: 0 };
const FIELDS = Message.fieldsArray.slice().sort((a, b) => a.id - b.id);
for (const f of FIELDS) {
  if (!(f.type in WIRE) || f.repeated || f.map) {
    throw new Error(`protocol.Message.${f.name}: type ${f.type} is not supported by this client`);
  }
}
const BY_ID = new Map(FIELDS.map((f) => [f.id, f]));

function defaultOf(type) {
  switch (type) {
    case "string":
      return "";
    case "bytes":
      return new Uint8Array(0);
    case "bool":
      return false;
    default:
      return 0;
  }
}

function isDefault(type, v) {
  if (v === undefined || v === null) return true;
  if (type === "string") return v === "";
  if (type === "bytes") return v.length === 0;
  if (type === "bool") return v === false;
  return Number(v) === 0;
}

function toNumber(v) {
  return typeof v === "object" && v !== null ? Number(v.toString()) : Number(v);
}

// Encodes a plain object with Message's field names; unknown keys are an error.
export function encodeMessage(fields) {
  for (const k of Object.keys(fields)) {
    if (!Message.fields[k]) throw new Error(`protocol.Message has no field ${k}`);
  }
  const w = protobuf.Writer.create();
  for (const f of FIELDS) {
    const v = fields[f.name];
    if (isDefault(f.type, v)) continue;
    w.uint32(((f.id << 3) | WIRE[f.type]) >>> 0);
    switch (f.type) {
      case "string":
        w.string(String(v));
        break;
      case "bytes":
        w.bytes(v);
        break;
      case "bool":
        w.bool(!!v);
        break;
      case "int32":
        w.int32(v);
        break;
      case "uint32":
        w.uint32(v);
        break;
      case "int64":
        w.int64(v);
        break;
      case "uint64":
        w.uint64(v);
        break;
    }
  }
  return w.finish();
}

// Decodes one frame into a plain object with every field (defaults filled);
// 64-bit integers become numbers, unknown fields are skipped.
export function decodeMessage(buffer) {
  const r = protobuf.Reader.create(new Uint8Array(buffer));
  const out = {};
  for (const f of FIELDS) out[f.name] = defaultOf(f.type);
  while (r.pos < r.len) {
    const tag = r.uint32();
    const f = BY_ID.get(tag >>> 3);
    if (!f || (tag & 7) !== WIRE[f.type]) {
      r.skipType(tag & 7);
      continue;
    }
    switch (f.type) {
      case "string":
        out[f.name] = r.string();
        break;
      case "bytes":
        out[f.name] = r.bytes();
        break;
      case "bool":
        out[f.name] = r.bool();
        break;
      case "int32":
        out[f.name] = r.int32();
        break;
      case "uint32":
        out[f.name] = r.uint32();
        break;
      case "int64":
        out[f.name] = toNumber(r.int64());
        break;
      case "uint64":
        out[f.name] = toNumber(r.uint64());
        break;
    }
  }
  return out;
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
