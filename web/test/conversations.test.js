// The conversation store's rules: order by server id, no duplicates when live,
// paged and catch-up messages meet, pending own messages kept by clientId
// until acked, and unread counts that neither miss nor double-count.
import { describe, expect, it } from "vitest";
import {
  fileFrame,
  initialState,
  mergeMessages,
  newestHeldId,
  orderedConversations,
  reducer,
  totalUnread,
} from "../src/store/conversations";

const ME = "me-uuid";
const BOB = "bob-uuid";
const GROUP = "group-uuid";

function item(id, from = BOB, extra = {}) {
  return {
    id,
    fromUserId: from,
    fromUsername: from === ME ? "me" : "bob",
    avatar: "",
    content: `m${id}`,
    contentType: 1,
    url: "",
    createAt: new Date(1_700_000_000_000 + id * 1000).toISOString(),
    ...extra,
  };
}

function frame(id, { from = BOB, to = ME, messageType = 1 } = {}) {
  return {
    id,
    from,
    to,
    messageType,
    fromUsername: "bob",
    avatar: "",
    content: `m${id}`,
    contentType: 1,
    url: "",
    createAt: 1_700_000_000_000 + id * 1000,
  };
}

function listItem(uuid, { kind = "user", last = null, unread = 0, readId = 0, muted = false } = {}) {
  return {
    kind,
    messageType: kind === "group" ? 2 : 1,
    uuid,
    user: kind === "user" ? { uuid, username: uuid.split("-")[0], nickname: "" } : null,
    group: kind === "group" ? { uuid, name: "team", notice: "" } : null,
    lastMessage: last,
    lastActivity: last ? last.createAt : new Date(1_600_000_000_000).toISOString(),
    readId,
    unread,
    muted,
    peerReadId: 0,
  };
}

function start(items = []) {
  let s = reducer(initialState, { type: "me", me: ME });
  s = reducer(s, { type: "conversations", items });
  return s;
}

function deliver(s, f) {
  const { key, message } = fileFrame(f, ME);
  return reducer(s, { type: "incoming", key, message });
}

const ids = (s, key) => (s.messages[key] || []).map((m) => m.id);

describe("mergeMessages", () => {
  const m = (id, extra = {}) => ({ key: `h${id}`, id, ...extra });

  it("orders by id whatever the arrival order", () => {
    expect(mergeMessages([m(5), m(2)], [m(9), m(1)]).map((x) => x.id)).toEqual([1, 2, 5, 9]);
  });

  it("drops an id it already holds", () => {
    const out = mergeMessages([m(1), m(2)], [m(2), m(3), m(1)]);
    expect(out.map((x) => x.id)).toEqual([1, 2, 3]);
  });

  it("keeps pending messages after the stored ones, in sending order", () => {
    const a = { key: "ca", id: 0, clientId: "a" };
    const b = { key: "cb", id: 0, clientId: "b" };
    const out = mergeMessages([m(1), a, b], [m(7)]);
    expect(out.map((x) => x.key)).toEqual(["h1", "h7", "ca", "cb"]);
  });

  it("replaces a pending message by its stored copy", () => {
    const a = { key: "ca", id: 0, clientId: "a" };
    const out = mergeMessages([m(1), a], [m(4, { clientId: "a" })]);
    expect(out.map((x) => [x.id, x.clientId])).toEqual([
      [1, undefined],
      [4, "a"],
    ]);
  });
});

describe("fileFrame", () => {
  it("files a 1:1 message from the peer under the peer", () => {
    const { key, message } = fileFrame(frame(1), ME);
    expect([key, message.mine]).toEqual([BOB, false]);
  });

  it("files an own 1:1 message from another device under the recipient, as own", () => {
    const { key, message } = fileFrame(frame(2, { from: ME, to: BOB }), ME);
    expect([key, message.mine]).toEqual([BOB, true]);
  });

  it("files a group message under the group; own when `to` is me", () => {
    expect(fileFrame(frame(3, { from: GROUP, to: BOB, messageType: 2 }), ME)).toMatchObject({
      key: GROUP,
      message: { mine: false, senderUuid: BOB },
    });
    expect(fileFrame(frame(4, { from: GROUP, to: ME, messageType: 2 }), ME)).toMatchObject({
      key: GROUP,
      message: { mine: true },
    });
  });
});

describe("reducer", () => {
  it("takes unread counts and previews from the conversation list", () => {
    const s = start([listItem(BOB, { last: item(7), unread: 3, readId: 4 })]);
    expect(s.convs[BOB]).toMatchObject({ unread: 3, readId: 4, name: "bob" });
    expect(s.convs[BOB].last.content).toBe("m7");
    expect(s.lastSeenId).toBe(7);
    expect(totalUnread(s)).toBe(3);
  });

  it("counts a live message from another once, and not one it already counted", () => {
    let s = start([listItem(BOB, { last: item(7), unread: 3, readId: 4 })]);
    s = deliver(s, frame(6)); // a catch-up repeat of what the list counted
    expect(s.convs[BOB].unread).toBe(3);
    s = deliver(s, frame(8));
    s = deliver(s, frame(8));
    expect(s.convs[BOB].unread).toBe(4);
    expect(ids(s, BOB)).toEqual([6, 8]);
    expect(s.lastSeenId).toBe(8);
  });

  it("never counts own messages, nor messages in the open conversation", () => {
    let s = start([listItem(BOB, { last: item(1) })]);
    s = deliver(s, frame(2, { from: ME, to: BOB }));
    expect(s.convs[BOB].unread).toBe(0);
    s = reducer(s, { type: "open", key: BOB });
    s = deliver(s, frame(3));
    expect(s.convs[BOB].unread).toBe(0);
  });

  it("clears a count on open and on our own read frame from another device", () => {
    let s = start([listItem(BOB, { last: item(5), unread: 2 }), listItem(GROUP, { kind: "group", last: item(9), unread: 4 })]);
    s = reducer(s, { type: "open", key: BOB });
    expect(s.convs[BOB].unread).toBe(0);
    s = reducer(s, { type: "read", from: ME, to: GROUP, id: 9, unread: 0 });
    expect(s.convs[GROUP]).toMatchObject({ unread: 0, readId: 9 });
    // a position that went back is not news; a peer's position is not ours
    s = reducer(s, { type: "read", from: ME, to: GROUP, id: 3, unread: 5 });
    s = reducer(s, { type: "read", from: BOB, to: GROUP, id: 10, unread: 7 });
    expect(s.convs[GROUP]).toMatchObject({ unread: 0, readId: 9 });
  });

  it("merges paged history with live messages by id, older pages on top", () => {
    let s = start([listItem(BOB, { last: item(300) })]);
    s = deliver(s, frame(301));
    s = reducer(s, { type: "history", key: BOB, items: [298, 299, 300, 301].map((i) => item(i)), complete: false });
    s = reducer(s, { type: "history", key: BOB, items: [1, 2, 297].map((i) => item(i)), complete: true });
    expect(ids(s, BOB)).toEqual([1, 2, 297, 298, 299, 300, 301]);
    expect(s.complete[BOB]).toBe(true);
    expect(s.messages[BOB][0].mine).toBe(false);
  });

  it("keeps a pending own message until its ack, then places it by id", () => {
    let s = start([listItem(BOB, { last: item(10) })]);
    s = reducer(s, { type: "open", key: BOB });
    s = reducer(s, { type: "history", key: BOB, items: [item(10)], complete: true });
    const pending = { key: "cx", clientId: "x", id: 0, mine: true, content: "hi", contentType: 1, createAt: Date.now(), status: "sending" };
    s = reducer(s, { type: "pending", key: BOB, message: pending });
    s = deliver(s, frame(12));
    expect(s.messages[BOB].map((m) => m.id || m.clientId)).toEqual([10, 12, "x"]);
    s = reducer(s, { type: "ack", clientId: "x", id: 11, createAt: 5 });
    expect(s.messages[BOB].map((m) => m.id)).toEqual([10, 11, 12]);
    expect(s.messages[BOB][1]).toMatchObject({ status: "sent", mine: true });
    expect(newestHeldId(s, BOB)).toBe(12);
  });

  it("marks a failed pending message, and removes it for a retry", () => {
    let s = start([listItem(BOB)]);
    const pending = { key: "cy", clientId: "y", id: 0, mine: true, content: "hi", contentType: 1, createAt: 1, status: "sending" };
    s = reducer(s, { type: "pending", key: BOB, message: pending });
    s = reducer(s, { type: "failed", clientId: "y", error: "no" });
    expect(s.messages[BOB][0]).toMatchObject({ status: "failed", error: "no" });
    s = reducer(s, { type: "remove", key: BOB, messageKey: "cy" });
    expect(s.messages[BOB]).toEqual([]);
  });

  it("orders the list by last activity, a new message moving its conversation up", () => {
    let s = start([
      listItem(BOB, { last: item(5) }),
      listItem("carol-uuid", { last: item(9, "carol-uuid") }),
      listItem(GROUP, { kind: "group" }),
    ]);
    expect(orderedConversations(s).map((c) => c.key)).toEqual(["carol-uuid", BOB, GROUP]);
    s = deliver(s, frame(10));
    expect(orderedConversations(s).map((c) => c.key)).toEqual([BOB, "carol-uuid", GROUP]);
  });

  it("leaves muted conversations out of the total and applies mute frames", () => {
    let s = start([listItem(BOB, { last: item(5), unread: 2 })]);
    s = reducer(s, { type: "mute", to: BOB, muted: true });
    expect(s.convs[BOB].muted).toBe(true);
    expect(totalUnread(s)).toBe(0);
  });

  it("keeps a list answer from undoing a newer live message", () => {
    let s = start([listItem(BOB, { last: item(5), unread: 1 })]);
    s = deliver(s, frame(6));
    s = reducer(s, { type: "conversations", items: [listItem(BOB, { last: item(5), unread: 1 })] });
    expect(s.convs[BOB].last.id).toBe(6);
    s = deliver(s, frame(6));
    expect(ids(s, BOB)).toEqual([6]);
  });
});
