// The main view: conversations on the left, the open chat on the right (one
// at a time on a narrow screen), calls on top.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useNavigate } from "react-router-dom";
import { Spin, message, notification } from "antd";
import { useTranslation } from "react-i18next";
import i18n, { applyLanguage, errorText } from "../i18n";
import { Api } from "../api";
import { ChatSocket } from "../socket";
import { CallManager, isCallFrame } from "../call";
import { CT } from "../proto";
import Sidebar from "../components/Sidebar";
import ChatView from "../components/ChatView";
import CallPanel from "../components/CallPanel";
import FrameViewer from "../components/FrameViewer";

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

function fromHistory(item, me) {
  return {
    key: `h${item.id}`,
    id: item.id,
    mine: item.fromUserId === me.uuid,
    senderUuid: item.fromUserId,
    senderName: item.fromUsername,
    avatar: item.avatar,
    content: item.content,
    contentType: item.contentType,
    url: item.url,
    createAt: item.createAt ? Date.parse(item.createAt) : 0,
    status: "sent",
  };
}

// A chat frame from the server: from is the sender (one-to-one) or the group
// (group message, the sender is then in to).
function fromFrame(msg) {
  const group = msg.messageType === 2;
  return {
    key: msg.id ? `h${msg.id}` : `l${newClientId()}`,
    id: msg.id || 0,
    mine: false,
    senderUuid: group ? msg.to : msg.from,
    senderName: msg.fromUsername,
    avatar: msg.avatar,
    content: msg.content,
    contentType: msg.contentType,
    url: msg.url,
    createAt: msg.createAt || Date.now(),
    status: "sent",
  };
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

export default function Panel() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const narrow = useNarrow();
  const [me, setMe] = useState(null);
  const [config, setConfig] = useState(null);
  const [friends, setFriends] = useState([]);
  const [groups, setGroups] = useState([]);
  const [activeKey, setActiveKey] = useState(null);
  const [messages, setMessages] = useState({});
  const [unread, setUnread] = useState({});
  const [lastText, setLastText] = useState({});
  const [connState, setConnState] = useState("connecting");
  const [callState, setCallState] = useState({ phase: "idle" });
  const [frame, setFrame] = useState(null);
  // What the polite live region last announced (new messages), for screen readers.
  const [announcement, setAnnouncement] = useState("");
  const socketRef = useRef(null);
  const callRef = useRef(null);
  const activeRef = useRef(null);
  const convsRef = useRef({});

  // Restore the session (the login cookie); without one go to the login page.
  useEffect(() => {
    let live = true;
    Promise.all([Api.me(), Api.clientConfig().catch(() => null)])
      .then(([user, cfg]) => {
        if (!live) return;
        applyLanguage(user.language);
        setMe(user);
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

  // The tab's title carries the number of unread messages.
  useEffect(() => {
    const total = Object.values(unread).reduce((a, n) => a + n, 0);
    document.title = total > 0 ? t("app.titleUnread", { count: total }) : t("app.title");
  }, [unread, t]);

  const conversations = useMemo(() => {
    const list = [
      ...friends.map((f) => ({
        key: f.uuid,
        kind: "user",
        name: f.username,
        title: f.nickname || f.username,
        avatar: f.avatar,
      })),
      ...groups.map((g) => ({
        key: g.uuid,
        kind: "group",
        name: g.name,
        title: g.name,
        notice: g.notice,
        avatar: "",
      })),
    ];
    return list;
  }, [friends, groups]);

  useEffect(() => {
    convsRef.current = Object.fromEntries(conversations.map((c) => [c.key, c]));
  }, [conversations]);

  const active = (activeKey && conversations.find((c) => c.key === activeKey)) || null;

  const refreshLists = useCallback(async () => {
    if (!me) return;
    const [fs, gs] = await Promise.all([
      Api.friends(me.uuid).catch(() => null),
      Api.groups(me.uuid).catch(() => null),
    ]);
    if (fs) setFriends(fs);
    if (gs) setGroups(gs);
  }, [me]);

  useEffect(() => {
    refreshLists();
  }, [refreshLists]);

  const loadHistory = useCallback(
    async (conv) => {
      if (!me || !conv) return;
      let items;
      try {
        items =
          conv.kind === "group"
            ? await Api.groupHistory(conv.key)
            : await Api.friendHistory(me.uuid, conv.name);
      } catch {
        return;
      }
      const history = (items || []).map((it) => fromHistory(it, me));
      const ids = new Set(history.map((m) => m.id));
      setMessages((all) => {
        const kept = (all[conv.key] || []).filter((m) => !m.id || !ids.has(m.id));
        return { ...all, [conv.key]: [...history, ...kept] };
      });
    },
    [me],
  );

  const openConversation = useCallback(
    (key) => {
      setActiveKey(key);
      activeRef.current = key;
      setUnread((u) => ({ ...u, [key]: 0 }));
      const conv = convsRef.current[key];
      if (conv) loadHistory(conv);
    },
    [loadHistory],
  );

  const closeConversation = () => {
    setActiveKey(null);
    activeRef.current = null;
  };

  const patchByClientId = (clientId, patch) => {
    setMessages((all) => {
      const next = { ...all };
      for (const [k, list] of Object.entries(all)) {
        const i = list.findIndex((m) => m.clientId === clientId);
        if (i >= 0) {
          const copy = list.slice();
          copy[i] = { ...copy[i], ...patch };
          next[k] = copy;
          return next;
        }
      }
      return all;
    });
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
      if (reconnected) {
        message.success(i18n.t("conn.reconnected"));
        refreshLists();
        const conv = convsRef.current[activeRef.current];
        if (conv) loadHistory(conv);
      }
    });
    socket.on("message", (msg) => {
      if (msg.type === "heatbeat") {
        window.__chatTrio.pongs = (window.__chatTrio.pongs || 0) + 1;
        return;
      }
      if (msg.type === "ack") {
        patchByClientId(msg.clientId, {
          status: "sent",
          id: msg.id,
          createAt: msg.createAt || Date.now(),
        });
        return;
      }
      if (msg.type === "error") {
        const text = errorText(msg.errorKey, msg.content || i18n.t("errors.status", { status: msg.code }));
        if (msg.clientId) patchByClientId(msg.clientId, { status: "failed", error: text });
        message.error(text);
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
      const key = msg.from;
      const m = fromFrame(msg);
      setMessages((all) => {
        const list = all[key] || [];
        if (m.id && list.some((x) => x.id === m.id)) return all;
        return { ...all, [key]: [...list, m] };
      });
      setLastText((t) => ({ ...t, [key]: preview(m) }));
      const conv = convsRef.current[key];
      const sender = msg.fromUsername || i18n.t("notify.someone");
      const where = conv && conv.kind === "group" ? conv.name : "";
      setAnnouncement(
        where
          ? i18n.t("notify.announceGroup", { name: sender, group: where, text: preview(m) })
          : i18n.t("notify.announce", { name: sender, text: preview(m) }),
      );
      if (!conv) refreshLists();
      if (key !== activeRef.current || document.hidden) {
        if (key !== activeRef.current) setUnread((u) => ({ ...u, [key]: (u[key] || 0) + 1 }));
        notification.info({
          key: `msg-${key}`,
          message: where ? i18n.t("notify.fromInGroup", { name: sender, group: where }) : sender,
          description: preview(m),
          placement: "topRight",
          duration: 4,
          onClick: () => openConversation(key),
        });
      }
    });
    socket.connect();
    return () => {
      unsubCall();
      calls.reset();
      socket.close();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [me, config]);

  const sendChat = useCallback(
    ({ contentType, content, url = "" }) => {
      const conv = convsRef.current[activeRef.current];
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
      setMessages((all) => ({ ...all, [conv.key]: [...(all[conv.key] || []), local] }));
      setLastText((t) => ({ ...t, [conv.key]: preview(local) }));
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
        patchByClientId(clientId, { status: "failed", error: i18n.t("chat.notConnectedShort") });
        message.error(i18n.t("chat.notConnected"));
      }
    },
    [me],
  );

  // A failed message is sent again as a new one; the failed copy goes away.
  const retry = useCallback(
    (m) => {
      const key = activeRef.current;
      setMessages((all) => ({ ...all, [key]: (all[key] || []).filter((x) => x.key !== m.key) }));
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
          activeKey={activeKey}
          unread={unread}
          lastText={lastText}
          connState={connState}
          onOpen={openConversation}
          onChanged={refreshLists}
          onLogout={logout}
        />
      )}
      {showChat && (
        <ChatView
          me={me}
          conv={active}
          narrow={narrow}
          messages={(active && messages[active.key]) || []}
          onBack={closeConversation}
          onSend={sendChat}
          onRetry={retry}
          maxUploadBytes={config.maxUploadBytes || 0}
          onCall={(kind) =>
            active && callRef.current.dial({ uuid: active.key, username: active.name }, kind)
          }
          callBusy={callState.phase !== "idle"}
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
