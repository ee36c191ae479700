// Presence, typing and receipt rules of the store: presence frames say a
// state (the latest wins, the larger lastSeen is kept), typing ends on a stop,
// a message from the typist or TYPING_MS after the last start, and a 1:1
// receipt position only moves forward.
import { describe, expect, it } from "vitest";
import { TYPING_MS, fileFrame, initialState, reducer, typingNames } from "../src/store/conversations";

const ME = "me-uuid";
const BOB = "bob-uuid";
const CAROL = "carol-uuid";
const GROUP = "group-uuid";

function start(items = []) {
  let s = reducer(initialState, { type: "me", me: ME });
  return reducer(s, { type: "conversations", items });
}

function bobItem(peerReadId) {
  return {
    kind: "user",
    messageType: 1,
    uuid: BOB,
    user: { uuid: BOB, username: "bob", nickname: "" },
    group: null,
    lastMessage: null,
    lastActivity: new Date(1_600_000_000_000).toISOString(),
    readId: 0,
    unread: 0,
    muted: false,
    peerReadId,
  };
}

describe("presence", () => {
  it("takes the list, then frames; keeps the larger lastSeen", () => {
    let s = start();
    s = reducer(s, { type: "presenceList", items: [{ uuid: BOB, online: false, lastSeen: 5000 }, { uuid: CAROL, online: true, lastSeen: null }] });
    expect(s.presence[BOB]).toEqual({ online: false, lastSeen: 5000 });
    expect(s.presence[CAROL]).toEqual({ online: true, lastSeen: 0 });
    s = reducer(s, { type: "presence", uuid: BOB, online: true, lastSeen: 0 });
    expect(s.presence[BOB]).toEqual({ online: true, lastSeen: 5000 });
    s = reducer(s, { type: "presence", uuid: BOB, online: false, lastSeen: 9000 });
    s = reducer(s, { type: "presence", uuid: BOB, online: false, lastSeen: 7000 });
    expect(s.presence[BOB]).toEqual({ online: false, lastSeen: 9000 });
  });
});

describe("typing", () => {
  it("shows a start until a stop", () => {
    let s = start();
    s = reducer(s, { type: "typing", key: BOB, who: BOB, name: "bob", start: true, at: 1000 });
    expect(typingNames(s, BOB, 2000)).toEqual(["bob"]);
    s = reducer(s, { type: "typing", key: BOB, who: BOB, name: "bob", start: false, at: 1500 });
    expect(typingNames(s, BOB, 2000)).toEqual([]);
  });

  it("ends after TYPING_MS without a new start", () => {
    let s = start();
    s = reducer(s, { type: "typing", key: GROUP, who: BOB, name: "bob", start: true, at: 1000 });
    s = reducer(s, { type: "typing", key: GROUP, who: CAROL, name: "carol", start: true, at: 3000 });
    expect(typingNames(s, GROUP, 1000 + TYPING_MS + 1)).toEqual(["carol"]);
    s = reducer(s, { type: "typingExpire", now: 1000 + TYPING_MS + 1 });
    expect(typingNames(s, GROUP)).toEqual(["carol"]);
  });

  it("ends on a message from the typist in that conversation only", () => {
    let s = start();
    s = reducer(s, { type: "typing", key: GROUP, who: BOB, name: "bob", start: true, at: 1000 });
    s = reducer(s, { type: "typing", key: GROUP, who: CAROL, name: "carol", start: true, at: 1000 });
    const f = { id: 7, from: GROUP, to: BOB, messageType: 2, fromUsername: "bob", avatar: "", content: "hi", contentType: 1, url: "", createAt: 2000 };
    const { key, message } = fileFrame(f, ME);
    s = reducer(s, { type: "incoming", key, message });
    expect(typingNames(s, GROUP)).toEqual(["carol"]);
  });
});

describe("receipts", () => {
  it("starts from peerReadId and moves forward with the peer's read frames", () => {
    let s = start([bobItem(4)]);
    expect(s.convs[BOB].peerReadId).toBe(4);
    s = reducer(s, { type: "read", from: BOB, to: ME, messageType: 1, id: 9, unread: 0 });
    expect(s.convs[BOB].peerReadId).toBe(9);
    s = reducer(s, { type: "read", from: BOB, to: ME, messageType: 1, id: 6, unread: 0 });
    expect(s.convs[BOB].peerReadId).toBe(9);
    // our own position is not the peer's
    s = reducer(s, { type: "read", from: ME, to: BOB, messageType: 1, id: 12, unread: 0 });
    expect(s.convs[BOB].peerReadId).toBe(9);
    expect(s.convs[BOB].readId).toBe(12);
  });

  it("forgets every position when receipts are turned off, and a null from the list", () => {
    let s = start([bobItem(4)]);
    s = reducer(s, { type: "receiptsOff" });
    expect(s.convs[BOB].peerReadId).toBe(0);
    s = start([bobItem(4)]);
    s = reducer(s, { type: "conversations", items: [bobItem(null)] });
    expect(s.convs[BOB].peerReadId).toBe(0);
  });
});
