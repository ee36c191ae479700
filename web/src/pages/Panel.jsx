// The main view: conversations on the left, the open chat on the right (one
// at a time on a narrow screen), calls on top.
import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { useNavigate } from "react-router-dom";
import { Spin, message, notification } from "antd";
import { useTranslation } from "react-i18next";
import i18n, { applyLanguage, errorText } from "../i18n";
import { Api } from "../api";
import { ChatSocket } from "../socket";
import { CallManager, isCallFrame } from "../call";
import { addCall, loadCallLog, saveCallLog, withCallLines } from "../callLog";
import { CT } from "../proto";
import { notificationPermission, shouldNotify, showNotification } from "../notify";
import Sidebar from "../components/Sidebar";
import ChatView from "../components/ChatView";
import CallPanel from "../components/CallPanel";
import FrameViewer from "../components/FrameViewer";
import {
  fileFrame,
  initialState,
  newestHeldId,
  orderedConversations,
  reducer,
  totalUnread,
  TYPING_MS,
  typingNames,
} from "../store/conversations";

const NARROW_PX = 768;

function useNarrow() {
  const [narrow, setNarrow] = useState(window.innerWidth < NARROW_PX);
  useEffect(() => {
    const onResize = () => setNarrow(window.innerWidth < NARROW_PX);
    window.addEventListener("resize", onResize);
    return () => window.removeEventListener("resize", onResize);
  }, []);
  return narrow;
}

function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

// A message in one line, for the conversation list, notifications and the
// screen reader's announcement.
function preview(m) {
  const t = i18n.t;
  switch (m.contentType) {
    case CT.TEXT:
      return m.content.length > 80 ? t("preview.cut", { text: m.content.slice(0, 80) }) : m.content;
    case CT.IMAGE:
      return t("preview.image");
    case CT.AUDIO:
      return t("preview.voice");
    case CT.VIDEO:
      return t("preview.video");
    default:
      return m.content && !m.content.startsWith("data:")
        ? t("preview.namedFile", { name: m.content })
        : t("preview.file");
  }
}

// Typing starts are sent at most this often (the server forwards one per 2 s).
const TYPING_EVERY_MS = 2100;

// How many messages one history page holds.
const PAGE = 100;

export default function Panel() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const narrow = useNarrow();
  const [me, setMe] = useState(null);
  const [config, setConfig] = useState(null);
  const [state, dispatch] = useReducer(reducer, initialState);
  const [connState, setConnState] = useState("connecting");
  const [callState, setCallState] = useState({ phase: "idle" });
  // Ended calls per conversation, shown as lines in it (see callLog.js).
  const [callLog, setCallLog] = useState({});
  const [frame, setFrame] = useState(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [friendNames, setFriendNames] = useState(() => new Set());
  // the user's read-receipts setting (GET /settings)
  const [receipts, setReceipts] = useState(true);
  // What the polite live region last announced (new messages), for screen readers.
  const [announcement, setAnnouncement] = useState("");
  const socketRef = useRef(null);
  const callRef = useRef(null);
  // The store as of the last render, for the socket's handlers.
  const stateRef = useRef(state);
  // Conversations whose newest page was fetched, and pages in flight.
  const loadedRef = useRef(new Set());
  const olderRef = useRef(new Set());
  // A catch-up is running: its messages are counted but not announced one by one.
  const syncingRef = useRef(false);
  const listLoadedRef = useRef(false);

  useEffect(() => {
    stateRef.current = state;
  }, [state]);

  // Restore the session (the login cookie); without one go to the login page.
  useEffect(() => {
    let live = true;
    Promise.all([Api.me(), Api.clientConfig().catch(() => null)])
      .then(([user, cfg]) => {
        if (!live) return;
        applyLanguage(user.language);
        dispatch({ type: "me", me: user.uuid });
        stateRef.current = { ...stateRef.current, me: user.uuid };
        setMe(user);
        setCallLog(loadCallLog(user.uuid));
        setConfig(cfg || { iceServers: [], heartbeatSeconds: 10, maxUploadBytes: 0 });
        if (!location.pathname.startsWith(`/panel/${user.uuid}`)) {
          navigate(`/panel/${user.uuid}`, { replace: true });
        }
      })
      .catch(() => {
        if (live) navigate("/login", { replace: true });
      });
    return () => {
      live = false;
    };
  }, [navigate]);

  const unreadTotal = totalUnread(state);
  // The tab's title carries the number of unread messages.
  useEffect(() => {
    document.title = unreadTotal > 0 ? t("app.titleUnread", { count: unreadTotal }) : t("app.title");
  }, [unreadTotal, t]);

  const conversations = useMemo(() => orderedConversations(state), [state]);
  const unread = useMemo(() => Object.fromEntries(conversations.map((c) => [c.key, c.unread])), [conversations]);
  const lastText = useMemo(
    () => Object.fromEntries(conversations.filter((c) => c.last).map((c) => [c.key, preview(c.last)])),
    [conversations],
  );
  const active = (state.active && state.convs[state.active]) || null;
  const activeMessages = active ? state.messages[active.key] : null;
  const shownMessages = useMemo(
    () => withCallLines(activeMessages || [], active ? callLog[active.key] : null),
    [activeMessages, active, callLog],
  );

  // Asks for everything after the newest id seen (docs/protocol.md, "Catch-up").
  const startSync = useCallback(() => {
    const from = stateRef.current.lastSeenId;
    if (!from || !socketRef.current) return;
    if (socketRef.current.send({ type: "sync", id: from })) syncingRef.current = true;
  }, []);

  // Presence as of now, then the frames (docs/protocol.md, "Presence"): after
  // connecting and whenever the contacts may have changed (a list refresh).
  const loadPresence = useCallback(() => {
    Api.presence()
      .then((items) => dispatch({ type: "presenceList", items: items || [] }))
      .catch(() => {});
  }, []);

  const onPresence = useCallback((items) => dispatch({ type: "presenceList", items }), []);

  // The whole conversation list, page by page.
  const refreshLists = useCallback(async () => {
    if (!me) return;
    loadPresence();
    const items = [];
    let before = "";
    // who is a friend (a 1:1 conversation may be with someone who is not)
    Api.friends(me.uuid)
      .then((fs) => setFriendNames(new Set((fs || []).map((f) => f.username))))
      .catch(() => {});
    try {
      for (;;) {
        const page = await Api.conversations(before);
        items.push(...page.items);
        if (!page.next) break;
        before = page.next;
      }
    } catch {
      return;
    }
    dispatch({ type: "conversations", items });
    const first = !listLoadedRef.current;
    listLoadedRef.current = true;
    if (first) {
      // messages that came between the list's answer and the socket's opening
      const newest = Math.max(0, ...items.map((i) => (i.lastMessage ? i.lastMessage.id : 0)));
      stateRef.current = { ...stateRef.current, lastSeenId: Math.max(stateRef.current.lastSeenId, newest) };
      if (socketRef.current && socketRef.current.isOpen()) startSync();
    }
  }, [me, startSync, loadPresence]);

  useEffect(() => {
    refreshLists();
  }, [refreshLists]);

  useEffect(() => {
    if (!me) return;
    Api.settings()
      .then((st) => setReceipts(!st || st.readReceipts !== false))
      .catch(() => {});
  }, [me]);

  const changeReceipts = useCallback(async (on) => {
    try {
      await Api.putSettings({ readReceipts: on });
    } catch {
      return false;
    }
    setReceipts(on);
    if (!on) dispatch({ type: "receiptsOff" });
    else refreshLists();
    return true;
  }, [refreshLists]);

  // Tells the server (and so every device of the user) that the conversation
  // is read up to the newest message held.
  const markRead = useCallback((key, atLeast = 0) => {
    const s = stateRef.current;
    const conv = s.convs[key];
    if (!conv || !socketRef.current) return;
    const id = Math.max(newestHeldId(s, key), atLeast);
    if (!id || (id <= conv.readId && !conv.unread)) return;
    socketRef.current.send({ type: "read", to: key, messageType: conv.kind === "group" ? 2 : 1, id });
  }, []);

  const fetchPage = useCallback(
    (conv, before) => {
      const opts = { before, limit: PAGE };
      return conv.kind === "group" ? Api.groupHistory(conv.key, opts) : Api.friendHistory(me.uuid, conv.name, opts);
    },
    [me],
  );

  const loadNewest = useCallback(
    async (conv) => {
      let items;
      try {
        items = (await fetchPage(conv, 0)) || [];
      } catch {
        return;
      }
      loadedRef.current.add(conv.key);
      dispatch({ type: "history", key: conv.key, items, complete: items.length < PAGE });
      const top = items.length ? items[items.length - 1].id : 0;
      if (stateRef.current.active === conv.key) markRead(conv.key, top);
    },
    [fetchPage, markRead],
  );

  const loadOlder = useCallback(async () => {
    const s = stateRef.current;
    const key = s.active;
    const conv = key && s.convs[key];
    if (!conv || s.complete[key] || olderRef.current.has(key)) return;
    const oldest = (s.messages[key] || []).find((m) => m.id);
    if (!oldest) return;
    olderRef.current.add(key);
    setLoadingOlder(true);
    try {
      const items = (await fetchPage(conv, oldest.id)) || [];
      dispatch({ type: "history", key, items, complete: items.length < PAGE });
    } catch {
      // a failed page is asked for again on the next scroll
    } finally {
      olderRef.current.delete(key);
      setLoadingOlder(false);
    }
  }, [fetchPage]);

  const openConversation = useCallback(
    (key) => {
      dispatch({ type: "open", key });
      stateRef.current = { ...stateRef.current, active: key };
      const conv = stateRef.current.convs[key];
      if (!conv) return;
      if (loadedRef.current.has(key)) markRead(key);
      else loadNewest(conv);
    },
    [loadNewest, markRead],
  );

  // A conversation shown while the tab was hidden is read once it is seen.
  useEffect(() => {
    const onVisible = () => {
      const key = stateRef.current.active;
      if (!document.hidden && key) markRead(key);
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => document.removeEventListener("visibilitychange", onVisible);
  }, [markRead]);

  const closeConversation = () => {
    dispatch({ type: "open", key: null });
    stateRef.current = { ...stateRef.current, active: null };
  };

  // The socket and the call manager live as long as the logged-in user.
  useEffect(() => {
    if (!me || !config) return;
    const socket = new ChatSocket({
      userUuid: me.uuid,
      heartbeatSeconds: config.heartbeatSeconds || 10,
    });
    socketRef.current = socket;
    const calls = new CallManager({
      onEnded: ({ peer, kind, seconds }) => {
        const at = Date.now();
        setCallLog((prev) => {
          const next = addCall(prev, peer.uuid, { at, kind, seconds });
          saveCallLog(me.uuid, next);
          return next;
        });
      },
      send: (fields) => socket.send(fields),
      iceServers: config.iceServers || [],
      notify: (key, values, level = "info") => message[level](i18n.t(key, values)),
    });
    callRef.current = calls;
    const unsubCall = calls.subscribe((s) => setCallState(s));
    let callChain = Promise.resolve();

    window.__chatTrio = {
      ...(window.__chatTrio || {}),
      socket,
      calls,
      pc: null,
      me,
      sendRaw: (fields) => socket.send(fields),
    };

    socket.on("state", (s) => {
      setConnState(s);
      window.__chatTrio.connState = s;
    });
    socket.on("open", ({ reconnected }) => {
      window.__chatTrio.connects = socket.connects;
      if (!reconnected) loadPresence();
      if (reconnected) {
        message.success(i18n.t("conn.reconnected"));
        refreshLists();
      }
      if (listLoadedRef.current) startSync();
    });

    const deliver = (msg) => {
      const { key, message: m } = fileFrame(msg, me.uuid);
      const known = stateRef.current.convs[key];
      dispatch({ type: "incoming", key, message: m });
      if (!known) refreshLists();
      if (key === stateRef.current.active && !document.hidden && m.id) markRead(key, m.id);
      if (m.mine || syncingRef.current) return;
      const sender = msg.fromUsername || i18n.t("notify.someone");
      const where = known && known.kind === "group" ? known.name : "";
      setAnnouncement(
        where
          ? i18n.t("notify.announceGroup", { name: sender, group: where, text: preview(m) })
          : i18n.t("notify.announce", { name: sender, text: preview(m) }),
      );
      const muted = !!(known && known.muted);
      const title = where ? i18n.t("notify.fromInGroup", { name: sender, group: where }) : sender;
      if (shouldNotify({ mine: m.mine, syncing: syncingRef.current, muted, hidden: document.hidden, permission: notificationPermission() })) {
        showNotification({ title, body: preview(m), tag: `msg-${key}`, onClick: () => openConversation(key) });
        window.__chatTrio.notifications = (window.__chatTrio.notifications || 0) + 1;
      }
      if ((key !== stateRef.current.active || document.hidden) && !muted) {
        notification.info({
          key: `msg-${key}`,
          message: title,
          description: preview(m),
          placement: "topRight",
          duration: 4,
          onClick: () => openConversation(key),
        });
      }
    };

    socket.on("message", (msg) => {
      if (msg.type === "heatbeat") {
        window.__chatTrio.pongs = (window.__chatTrio.pongs || 0) + 1;
        return;
      }
      if (msg.type === "ack") {
        dispatch({ type: "ack", clientId: msg.clientId, id: msg.id, createAt: msg.createAt || Date.now() });
        return;
      }
      if (msg.type === "error") {
        const text = errorText(msg.errorKey, msg.content || i18n.t("errors.status", { status: msg.code }));
        if (msg.clientId) dispatch({ type: "failed", clientId: msg.clientId, error: text });
        // a refused catch-up must not silence the messages that follow
        else syncingRef.current = false;
        message.error(text);
        return;
      }
      if (msg.type === "read") {
        dispatch({ type: "read", from: msg.from, to: msg.to, id: msg.id, unread: msg.unread });
        return;
      }
      if (msg.type === "presence") {
        dispatch({ type: "presence", uuid: msg.from, online: msg.content === "online", lastSeen: msg.lastSeen || 0 });
        return;
      }
      if (msg.type === "typing") {
        const group = msg.messageType === 2;
        const start = msg.content !== "stop";
        dispatch({
          type: "typing",
          key: msg.from,
          who: group ? msg.to : msg.from,
          name: msg.fromUsername || "",
          start,
          at: Date.now(),
        });
        if (start) setTimeout(() => dispatch({ type: "typingExpire", now: Date.now() }), TYPING_MS + 50);
        return;
      }
      if (msg.type === "mute") {
        dispatch({ type: "mute", to: msg.to, muted: msg.muted });
        return;
      }
      if (msg.type === "sync") {
        if (msg.content === "more") socket.send({ type: "sync", id: msg.id });
        else syncingRef.current = false;
        window.__chatTrio.syncs = (window.__chatTrio.syncs || 0) + (msg.content === "more" ? 0 : 1);
        return;
      }
      if (msg.type === "friend") {
        // the other user asked or accepted (a change made on one of our own devices
        // names us as the actor, and needs no word)
        if (msg.actor !== me.uuid) {
          let name = "";
          try {
            name = JSON.parse(msg.content).username || "";
          } catch {
            // no profile: the list refresh still shows the change
          }
          if (msg.friendEvent === "request") message.info(i18n.t("search.requestReceived", { name }));
          if (msg.friendEvent === "accept") message.success(i18n.t("search.friendAdded", { name }));
        }
        refreshLists();
        return;
      }
      if (isCallFrame(msg)) {
        callChain = callChain.then(() => calls.handle(msg)).catch((e) => console.error(e));
        return;
      }
      if (msg.contentType === CT.VIDEO_FRAME || msg.contentType === CT.SCREEN_FRAME) {
        if (msg.content.startsWith("data:image/")) {
          setFrame({
            from: msg.fromUsername || msg.from,
            kind: msg.contentType === CT.SCREEN_FRAME ? "screen" : "video",
            src: msg.content,
          });
        }
        return;
      }
      if (msg.type !== "" || msg.from === "System") return;
      if (msg.contentType < CT.TEXT || msg.contentType > CT.VIDEO) return;
      deliver(msg);
    });
    socket.connect();
    return () => {
      unsubCall();
      calls.reset();
      socket.close();
    };
    // The socket lives as long as the user and config; the callbacks it uses
    // read the store through stateRef.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [me?.uuid, config]);

  // Typing frames: a start at most every ~2 s while the user types (the server
  // forwards no more, and counts from the last one it forwarded, a stop in
  // between or not); a start held back by that is sent when the 2 s are over,
  // if the user still has text, so a burst of keys is never lost. A stop when
  // the box is cleared or the message sent (docs/protocol.md, "Typing").
  const typingRef = useRef({ key: null, at: 0, timer: 0, active: false });
  const sendTyping = useCallback((typing) => {
    const s = stateRef.current;
    const conv = s.convs[s.active];
    const sock = socketRef.current;
    const tr = typingRef.current;
    if (tr.timer) {
      clearTimeout(tr.timer);
      tr.timer = 0;
    }
    if (!sock) return;
    if (!typing) {
      const prev = tr.key && s.convs[tr.key];
      if (tr.active && prev) sock.send({ type: "typing", to: prev.key, messageType: prev.kind === "group" ? 2 : 1, content: "stop" });
      tr.active = false;
      return;
    }
    if (!conv) return;
    if (tr.key !== conv.key) {
      if (tr.active) sendTyping(false);
      typingRef.current = { key: conv.key, at: 0, timer: 0, active: false };
      sendTyping(true);
      return;
    }
    const wait = tr.at + TYPING_EVERY_MS - Date.now();
    if (wait > 0) {
      tr.timer = setTimeout(() => {
        tr.timer = 0;
        if (stateRef.current.active === tr.key) sendTyping(true);
      }, wait);
      return;
    }
    tr.at = Date.now();
    tr.active = true;
    sock.send({ type: "typing", to: conv.key, messageType: conv.kind === "group" ? 2 : 1, content: "start" });
  }, []);

  const toggleMute = useCallback(async (key) => {
    const conv = stateRef.current.convs[key];
    if (!conv) return;
    try {
      const r = await Api.mute(conv.kind, key, !conv.muted);
      dispatch({ type: "mute", to: key, muted: r.muted });
    } catch {
      // shown by api()
    }
  }, []);

  const sendChat = useCallback(
    ({ contentType, content, url = "" }) => {
      const conv = stateRef.current.convs[stateRef.current.active];
      if (!conv || !me) return;
      const clientId = newClientId();
      const local = {
        key: `c${clientId}`,
        clientId,
        id: 0,
        mine: true,
        senderUuid: me.uuid,
        senderName: me.username,
        avatar: me.avatar,
        content,
        contentType,
        url,
        createAt: Date.now(),
        status: "sending",
      };
      dispatch({ type: "pending", key: conv.key, message: local });
      sendTyping(false);
      const ok = socketRef.current.send({
        from: me.uuid,
        fromUsername: me.username,
        to: conv.key,
        messageType: conv.kind === "group" ? 2 : 1,
        contentType,
        content,
        url,
        clientId,
      });
      if (!ok) {
        dispatch({ type: "failed", clientId, error: i18n.t("chat.notConnectedShort") });
        message.error(i18n.t("chat.notConnected"));
      }
    },
    [me, sendTyping],
  );

  // A failed message is sent again as a new one; the failed copy goes away.
  const retry = useCallback(
    (m) => {
      dispatch({ type: "remove", key: stateRef.current.active, messageKey: m.key });
      sendChat({ contentType: m.contentType, content: m.content, url: m.url });
    },
    [sendChat],
  );

  const logout = async () => {
    await Api.logout().catch(() => {}); // the server clears the cookie
    navigate("/login");
  };

  if (!me || !config) {
    return (
      <main className="auth-page">
        <Spin aria-label={t("app.loading")} />
      </main>
    );
  }

  const showList = !narrow || !active;
  const showChat = !narrow || !!active;

  return (
    <div className={`panel ${narrow ? "narrow" : "wide"}`} data-testid="panel">
      {showList && (
        <Sidebar
          me={me}
          setMe={setMe}
          conversations={conversations}
          friendNames={friendNames}
          activeKey={state.active}
          unread={unread}
          lastText={lastText}
          connState={connState}
          onOpen={openConversation}
          onChanged={refreshLists}
          onLogout={logout}
          presence={state.presence}
          receipts={receipts}
          onReceipts={changeReceipts}
        />
      )}
      {showChat && (
        <ChatView
          me={me}
          conv={active}
          narrow={narrow}
          messages={shownMessages}
          complete={!!(active && state.complete[active.key])}
          loadingOlder={loadingOlder}
          onLoadOlder={loadOlder}
          onBack={closeConversation}
          onSend={sendChat}
          onRetry={retry}
          maxUploadBytes={config.maxUploadBytes || 0}
          onCall={(kind) =>
            active && callRef.current.dial({ uuid: active.key, username: active.name }, kind)
          }
          callBusy={callState.phase !== "idle"}
          presence={active && active.kind === "user" ? state.presence[active.key] : null}
          presenceAll={state.presence}
          onPresence={onPresence}
          typing={active ? typingNames(state, active.key) : []}
          onTyping={sendTyping}
          onToggleMute={toggleMute}
          receipts={receipts}
        />
      )}
      <CallPanel state={callState} calls={callRef.current} />
      <div className="sr-only" aria-live="polite" role="status" data-testid="live-region">
        {announcement}
      </div>
      <FrameViewer frame={frame} onClose={() => setFrame(null)} />
    </div>
  );
}
