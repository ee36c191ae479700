// The client's conversation state in one place: the conversation list, the
// messages of each conversation and the unread counts, changed only by the
// pure reducer below so that merge, order and unread rules can be tested
// without a browser.
//
// Rules (docs/protocol.md, "Delivery guarantees"):
// - a conversation's messages are ordered by server id, never by arrival; an
//   id already held is dropped, so live, paged and catch-up messages merge
//   without duplicates;
// - an own message not yet acked has no id: it is kept by its clientId after
//   every stored message, in the order it was sent, until its ack gives it an id;
// - unread counts start from the server's (GET /conversations) and grow only
//   for messages from others newer than anything already counted there, so a
//   catch-up that repeats a message never counts it twice.

export const initialState = {
  me: "",
  convs: {},
  messages: {},
  // conversations whose very first message is loaded
  complete: {},
  active: null,
  // the newest message id seen anywhere: where a catch-up starts
  lastSeenId: 0,
  // presence of contacts by user uuid: {online, lastSeen (ms, 0: unknown)}
  presence: {},
  // who is typing where: conversation key -> user uuid -> {name, at (ms)}
  typing: {},
};

// How long a typing start is shown without a newer one (docs/protocol.md, "Typing").
export const TYPING_MS = 6000;

function ms(t) {
  if (typeof t === "number") return t;
  return t ? Date.parse(t) || 0 : 0;
}

// A history item (GET /message, GET /conversations' lastMessage) as a message.
export function fromHistory(item, me) {
  return {
    key: `h${item.id}`,
    id: item.id,
    mine: item.fromUserId === me,
    senderUuid: item.fromUserId,
    senderName: item.fromUsername,
    avatar: item.avatar,
    content: item.content,
    contentType: item.contentType,
    url: item.url,
    createAt: ms(item.createAt),
    status: "sent",
  };
}

// Where a delivered chat frame belongs and whether it is the user's own
// ("Filing your own messages"): in a group `from` is the group and `to` the
// sender; one-to-one `from` is the sender and `to` the recipient.
export function fileFrame(frame, me) {
  const group = frame.messageType === 2;
  const sender = group ? frame.to : frame.from;
  const mine = sender === me;
  const key = group ? frame.from : mine ? frame.to : frame.from;
  return {
    key,
    message: {
      key: frame.id ? `h${frame.id}` : `l${key}-${frame.createAt}-${frame.content.length}`,
      id: frame.id || 0,
      mine,
      senderUuid: sender,
      senderName: frame.fromUsername,
      avatar: frame.avatar,
      content: frame.content,
      contentType: frame.contentType,
      url: frame.url,
      createAt: frame.createAt || Date.now(),
      status: "sent",
    },
  };
}

// Merges messages into a list: stored ones by id (duplicates dropped), pending
// ones (no id yet) after them by clientId. A stored message that carries the
// clientId of a pending one replaces it.
export function mergeMessages(list, incoming) {
  const byId = new Map();
  const pending = [];
  const acked = new Set();
  for (const m of [...list, ...incoming]) {
    if (m.id) {
      if (!byId.has(m.id)) byId.set(m.id, m);
      else if (m.clientId && !byId.get(m.id).clientId) byId.set(m.id, { ...byId.get(m.id), clientId: m.clientId });
      if (m.clientId) acked.add(m.clientId);
    }
  }
  const seenPending = new Set();
  for (const m of [...list, ...incoming]) {
    if (m.id || acked.has(m.clientId)) continue;
    const k = m.clientId || m.key;
    if (seenPending.has(k)) continue;
    seenPending.add(k);
    pending.push(m);
  }
  const stored = [...byId.values()].sort((a, b) => a.id - b.id);
  return [...stored, ...pending];
}

function newestId(list) {
  for (let i = list.length - 1; i >= 0; i--) if (list[i].id) return list[i].id;
  return 0;
}

function emptyConv(key) {
  return {
    key,
    kind: "user",
    name: "",
    title: "",
    avatar: "",
    notice: "",
    lastActivity: 0,
    last: null,
    unread: 0,
    readId: 0,
    // the newest id whose unread state is accounted for in `unread`
    countedId: 0,
    muted: false,
    // 1:1: the peer's read position ("seen" up to it); 0 none or not shared
    peerReadId: 0,
  };
}

// A GET /conversations item as a conversation.
export function fromListItem(item, me) {
  const group = item.kind === "group";
  const who = group ? item.group || {} : item.user || {};
  const last = item.lastMessage ? fromHistory(item.lastMessage, me) : null;
  return {
    key: item.uuid,
    kind: group ? "group" : "user",
    name: group ? who.name || "" : who.username || "",
    title: group ? who.name || "" : who.nickname || who.username || "",
    avatar: who.avatar || "",
    notice: group ? who.notice || "" : "",
    lastActivity: ms(item.lastActivity),
    last,
    unread: item.unread || 0,
    readId: item.readId || 0,
    countedId: last ? last.id : 0,
    muted: !!item.muted,
    peerReadId: item.peerReadId || 0,
  };
}

function withConv(state, key, patch) {
  const conv = { ...(state.convs[key] || emptyConv(key)), ...patch };
  return { ...state, convs: { ...state.convs, [key]: conv } };
}

function findClientId(state, clientId) {
  for (const [key, list] of Object.entries(state.messages)) {
    const i = list.findIndex((m) => m.clientId === clientId);
    if (i >= 0) return [key, i];
  }
  return [null, -1];
}

export function reducer(state, action) {
  switch (action.type) {
    case "me":
      return { ...state, me: action.me };

    // The conversation list from the server: its counts are the truth.
    case "conversations": {
      const convs = { ...state.convs };
      let lastSeenId = state.lastSeenId;
      for (const item of action.items) {
        const c = fromListItem(item, state.me);
        const old = convs[c.key];
        const held = old ? state.messages[c.key] || [] : [];
        const lastHeld = held.length ? held[held.length - 1] : null;
        convs[c.key] = {
          ...c,
          // a live message newer than the list answer wins
          last: old && old.last && (!c.last || old.last.id > c.last.id) ? old.last : c.last,
          lastActivity: Math.max(c.lastActivity, old ? old.lastActivity : 0, lastHeld ? lastHeld.createAt : 0),
          countedId: Math.max(c.countedId, old ? old.countedId : 0),
          unread: c.key === state.active ? 0 : c.unread,
          // null from the server means receipts are off on either side
          peerReadId: item.peerReadId ? Math.max(item.peerReadId, old ? old.peerReadId : 0) : 0,
        };
        if (c.last) lastSeenId = Math.max(lastSeenId, c.last.id);
      }
      return { ...state, convs, lastSeenId };
    }

    // A page of history: older (before=) or the newest one.
    case "history": {
      const { key, items, complete } = action;
      const msgs = items.map((it) => fromHistory(it, state.me));
      const list = mergeMessages(state.messages[key] || [], msgs);
      const next = { ...state, messages: { ...state.messages, [key]: list } };
      if (complete) next.complete = { ...state.complete, [key]: true };
      const top = newestId(msgs);
      next.lastSeenId = Math.max(state.lastSeenId, top);
      const conv = state.convs[key];
      if (conv && top > conv.countedId) {
        // the newest page can hold what the list did not know yet; it is
        // counted only as read when the conversation is open
        return withConv(next, key, { countedId: top, last: list[list.length - 1] });
      }
      return next;
    }

    // A delivered message (live or catch-up), filed by fileFrame.
    case "incoming": {
      const { key, message: m } = action;
      const list = state.messages[key] || [];
      if (m.id && list.some((x) => x.id === m.id)) return state;
      const conv = state.convs[key] || emptyConv(key);
      const fresh = !m.id || m.id > conv.countedId;
      const counts = fresh && !m.mine && key !== state.active && m.id > conv.readId;
      const next = {
        ...state,
        messages: { ...state.messages, [key]: mergeMessages(list, [m]) },
        lastSeenId: Math.max(state.lastSeenId, m.id || 0),
      };
      const patch = {};
      if (fresh) {
        patch.countedId = Math.max(conv.countedId, m.id || 0);
        patch.last = m;
        patch.lastActivity = Math.max(conv.lastActivity, m.createAt || 0);
      }
      if (counts) patch.unread = conv.unread + 1;
      // a message from someone ends their typing there
      const typers = state.typing[key];
      if (typers && typers[m.senderUuid]) {
        const rest = { ...typers };
        delete rest[m.senderUuid];
        next.typing = { ...state.typing, [key]: rest };
      }
      return withConv(next, key, patch);
    }

    // An own message sent from this device, waiting for its ack.
    case "pending": {
      const { key, message: m } = action;
      const next = { ...state, messages: { ...state.messages, [key]: mergeMessages(state.messages[key] || [], [m]) } };
      return withConv(next, key, { last: m, lastActivity: Math.max((state.convs[key] || emptyConv(key)).lastActivity, m.createAt) });
    }

    case "ack": {
      const [key, i] = findClientId(state, action.clientId);
      if (key === null) return state;
      const list = state.messages[key].slice();
      const acked = { ...list[i], id: action.id, status: "sent", createAt: action.createAt || list[i].createAt };
      list.splice(i, 1);
      const merged = mergeMessages(list, [acked]);
      const conv = state.convs[key] || emptyConv(key);
      const next = { ...state, messages: { ...state.messages, [key]: merged }, lastSeenId: Math.max(state.lastSeenId, action.id) };
      return withConv(next, key, {
        countedId: Math.max(conv.countedId, action.id),
        last: conv.last && conv.last.clientId === action.clientId ? acked : conv.last,
      });
    }

    case "failed": {
      const [key, i] = findClientId(state, action.clientId);
      if (key === null) return state;
      const list = state.messages[key].slice();
      list[i] = { ...list[i], status: "failed", error: action.error };
      return { ...state, messages: { ...state.messages, [key]: list } };
    }

    case "remove": {
      const list = (state.messages[action.key] || []).filter((m) => m.key !== action.messageKey);
      return { ...state, messages: { ...state.messages, [action.key]: list } };
    }

    case "open":
      if (action.key === null) return { ...state, active: null };
      return withConv({ ...state, active: action.key }, action.key, { unread: 0 });

    // A `read` frame: our own position (from is us) or, 1:1, the peer's.
    case "read": {
      if (action.from !== state.me) {
        // the peer's position in our 1:1 conversation with them: receipts
        const peer = state.convs[action.from] || emptyConv(action.from);
        if (action.id <= peer.peerReadId) return state;
        return withConv(state, action.from, { peerReadId: action.id });
      }
      const conv = state.convs[action.to] || emptyConv(action.to);
      if (action.id < conv.readId) return state;
      return withConv(state, action.to, { readId: action.id, unread: action.unread });
    }

    case "mute":
      return withConv(state, action.to, { muted: action.muted });

    // Receipts turned off: nobody's positions are shown any more.
    case "receiptsOff": {
      const convs = {};
      for (const [k, c] of Object.entries(state.convs)) convs[k] = { ...c, peerReadId: 0 };
      return { ...state, convs };
    }

    // GET /presence: [{uuid, online, lastSeen}], lastSeen ISO, ms or null.
    case "presenceList": {
      const presence = { ...state.presence };
      for (const p of action.items) {
        const old = presence[p.uuid];
        presence[p.uuid] = { online: !!p.online, lastSeen: Math.max(ms(p.lastSeen), old ? old.lastSeen : 0) };
      }
      return { ...state, presence };
    }

    // A `presence` frame: the latest state wins, the larger lastSeen is kept.
    case "presence": {
      const old = state.presence[action.uuid];
      const lastSeen = Math.max(ms(action.lastSeen), old ? old.lastSeen : 0);
      return { ...state, presence: { ...state.presence, [action.uuid]: { online: action.online, lastSeen } } };
    }

    // A `typing` frame, filed like a message: key the conversation, who the typist.
    case "typing": {
      const typers = { ...(state.typing[action.key] || {}) };
      if (action.start) typers[action.who] = { name: action.name, at: action.at };
      else delete typers[action.who];
      return { ...state, typing: { ...state.typing, [action.key]: typers } };
    }

    // Drops typing starts older than TYPING_MS.
    case "typingExpire": {
      const typing = {};
      for (const [k, typers] of Object.entries(state.typing)) {
        typing[k] = Object.fromEntries(Object.entries(typers).filter(([, v]) => action.now - v.at < TYPING_MS));
      }
      return { ...state, typing };
    }

    default:
      throw new Error(`unknown action ${action.type}`);
  }
}

// The conversations, newest activity first.
export function orderedConversations(state) {
  return Object.values(state.convs)
    .filter((c) => c.name)
    .sort((a, b) => b.lastActivity - a.lastActivity || a.title.localeCompare(b.title));
}

export function totalUnread(state) {
  return Object.values(state.convs).reduce((n, c) => n + (c.muted ? 0 : c.unread), 0);
}

// The newest stored id held for a conversation (what a read mark names).
export function newestHeldId(state, key) {
  const held = newestId(state.messages[key] || []);
  const conv = state.convs[key];
  return Math.max(held, conv && conv.last ? conv.last.id || 0 : 0);
}

// The names typing in a conversation, in the order they started; with `now`,
// only those whose start is younger than TYPING_MS (typingExpire drops the rest).
export function typingNames(state, key, now) {
  return Object.values(state.typing[key] || {})
    .filter((v) => now === undefined || now - v.at < TYPING_MS)
    .sort((a, b) => a.at - b.at)
    .map((v) => v.name);
}
