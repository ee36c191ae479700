// The open conversation: header, messages, and the composer (text, emoji,
// files, pasted images, voice and video recordings), plus call buttons.
import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { Button, Drawer, Empty, Input, List, Avatar, Popover, Space, Tooltip, Typography, message } from "antd";
import {
  ArrowDownOutlined,
  ArrowLeftOutlined,
  AudioOutlined,
  BellOutlined,
  PaperClipOutlined,
  PhoneOutlined,
  SendOutlined,
  SmileOutlined,
  StopOutlined,
  TeamOutlined,
  UserOutlined,
  VideoCameraOutlined,
  VideoCameraAddOutlined,
} from "@ant-design/icons";
import { useTranslation } from "react-i18next";
import { Api, fileUrl } from "../api";
import { useNow } from "../time";
import MessageItem from "./MessageItem";
import PresenceDot from "./Presence";
import Recorder from "./Recorder";

const EMOJIS = [
  "😀", "😁", "😂", "🤣", "😊", "😍", "😘", "😎", "🤔", "😐",
  "😴", "😭", "😡", "😱", "🥳", "🙄", "😇", "🤗", "🤫", "🤝",
  "👍", "👎", "👏", "🙏", "💪", "👋", "🎉", "🔥", "❤️", "💔",
  "⭐", "☕", "🍺", "🍕", "🎂", "🌹", "🐱", "🐶", "✅", "❌",
];

export default function ChatView({
  me,
  conv,
  narrow,
  messages,
  complete,
  loadingOlder,
  onLoadOlder,
  onBack,
  onSend,
  onRetry,
  onCall,
  callBusy,
  maxUploadBytes,
  presence,
  presenceAll = {},
  onPresence,
  typing = [],
  onTyping,
  onToggleMute,
  receipts = true,
}) {
  const [text, setText] = useState("");
  const [emojiOpen, setEmojiOpen] = useState(false);
  const [uploading, setUploading] = useState(false);
  const [membersOpen, setMembersOpen] = useState(false);
  const [members, setMembers] = useState([]);
  const listRef = useRef(null);
  const fileInput = useRef(null);
  const inputRef = useRef(null);
  const emojiButton = useRef(null);
  const { t } = useTranslation();
  const now = useNow();

  const [atBottom, setAtBottom] = useState(true);
  // What the list showed at the last render: to tell older messages put on
  // top (keep the view where it was) from new ones below (follow them when
  // at the bottom), and a newly opened conversation (go to its newest).
  const shown = useRef({ key: null, first: null, last: null, height: 0, top: 0, bottom: true });
  const convKey = conv ? conv.key : null;
  const firstKey = messages.length ? messages[0].key : null;
  const lastKey = messages.length ? messages[messages.length - 1].key : null;

  useLayoutEffect(() => {
    const el = listRef.current;
    if (!el) return;
    const before = shown.current;
    if (before.key !== convKey) {
      el.scrollTop = el.scrollHeight;
    } else if (firstKey !== before.first && lastKey === before.last) {
      el.scrollTop = before.top + (el.scrollHeight - before.height);
    } else if (lastKey !== before.last) {
      const last = messages[messages.length - 1];
      if (before.bottom || (last && last.mine)) el.scrollTop = el.scrollHeight;
    }
    shown.current = { ...before, key: convKey, first: firstKey, last: lastKey, height: el.scrollHeight, top: el.scrollTop };
    // a first page that does not fill the view: there is nothing to scroll
    if (el.scrollHeight <= el.clientHeight && !complete && messages.length && onLoadOlder) onLoadOlder();
  }, [convKey, firstKey, lastKey, messages, complete, onLoadOlder]);

  // Media that finishes loading grows the list: stay at the newest when there.
  useEffect(() => {
    const el = listRef.current;
    if (!el) return undefined;
    const onLoad = () => {
      if (shown.current.bottom) el.scrollTop = el.scrollHeight;
      shown.current.height = el.scrollHeight;
      shown.current.top = el.scrollTop;
    };
    el.addEventListener("load", onLoad, true);
    el.addEventListener("loadedmetadata", onLoad, true);
    return () => {
      el.removeEventListener("load", onLoad, true);
      el.removeEventListener("loadedmetadata", onLoad, true);
    };
  }, [convKey]);

  const onScroll = () => {
    const el = listRef.current;
    if (!el) return;
    const bottom = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    shown.current.bottom = bottom;
    shown.current.top = el.scrollTop;
    shown.current.height = el.scrollHeight;
    setAtBottom(bottom);
    if (el.scrollTop < 300 && !complete && onLoadOlder) onLoadOlder();
  };

  const jumpToLatest = () => {
    const el = listRef.current;
    if (!el) return;
    el.scrollTop = el.scrollHeight;
    shown.current.bottom = true;
    setAtBottom(true);
  };

  // Another conversation starts with an empty composer and no members drawer.
  const [composerOf, setComposerOf] = useState(convKey);
  if (composerOf !== convKey) {
    setComposerOf(convKey);
    setText("");
    setMembersOpen(false);
  }

  if (!conv) {
    return (
      <main className="chat chat-empty" data-testid="chat-empty">
        <Empty description={t("chat.pick")} />
      </main>
    );
  }

  const sendText = () => {
    const t = text.trim();
    if (!t) return;
    onSend({ contentType: 1, content: t });
    setText("");
    if (onTyping) onTyping(false);
  };

  // Uploads a file or recording over HTTP, then sends its name in a frame.
  // A voice recording is audio even when its WebM container sniffs as video.
  const sendFile = async (file, name, { audioOnly = false } = {}) => {
    name = name || file.name || t("preview.fileName");
    if (maxUploadBytes && file.size > maxUploadBytes) {
      message.error(t("chat.fileTooLarge", { name, limit: Math.round(maxUploadBytes / 1024 / 1024) }));
      return;
    }
    setUploading(true);
    try {
      const r = await Api.upload(file, name);
      const contentType = audioOnly && r.contentType === 5 ? 4 : r.contentType;
      onSend({ contentType, url: r.name, content: name });
    } catch {
      // shown by api()
    } finally {
      setUploading(false);
    }
  };

  const onPaste = (e) => {
    const items = e.clipboardData && e.clipboardData.items;
    if (!items) return;
    for (const item of items) {
      if (item.kind === "file") {
        const file = item.getAsFile();
        if (!file) continue;
        e.preventDefault();
        const ext = (file.type.split("/")[1] || "bin").replace(/[^a-z0-9]/gi, "");
        sendFile(file, file.name && file.name !== "image.png" ? file.name : `pasted-${Date.now()}.${ext}`);
        return;
      }
    }
  };

  const openMembers = async () => {
    setMembersOpen(true);
    // members who joined since the last list refresh, and groups too large for
    // presence frames: ask (docs/protocol.md, "Presence")
    Api.groupPresence(conv.key)
      .then((items) => onPresence && onPresence(items || []))
      .catch(() => {});
    try {
      setMembers((await Api.groupMembers(conv.key)) || []);
    } catch {
      setMembers([]);
    }
  };

  // Back to the message box after picking (or Escape), so typing goes on.
  const closeEmoji = (focusInput) => {
    setEmojiOpen(false);
    if (focusInput && inputRef.current) inputRef.current.focus();
  };

  // Arrow keys move between the emoji, Escape closes the picker.
  const onEmojiKey = (e) => {
    const buttons = [...e.currentTarget.querySelectorAll("button")];
    const i = buttons.indexOf(document.activeElement);
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 8, ArrowUp: -8 }[e.key];
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      setEmojiOpen(false);
      if (emojiButton.current) emojiButton.current.focus();
    } else if (step && i >= 0) {
      e.preventDefault();
      buttons[(i + step + buttons.length) % buttons.length].focus();
    }
  };

  const emojiGrid = (
    <div className="emoji-grid" data-testid="emoji-grid" role="group" aria-label={t("chat.emoji")} onKeyDown={onEmojiKey}>
      {EMOJIS.map((e) => (
        <button
          key={e}
          type="button"
          className="emoji"
          data-testid="emoji-item"
          onClick={() => {
            setText((v) => v + e);
            closeEmoji(true);
          }}
        >
          {e}
        </button>
      ))}
    </div>
  );

  return (
    <main className="chat" data-testid="chat" data-conv={conv.name} aria-labelledby="chat-title">
      <header className="chat-header">
        {narrow && <Button icon={<ArrowLeftOutlined />} onClick={onBack} data-testid="back-button" aria-label={t("chat.back")} />}
        <div className="chat-heading">
          <Typography.Title level={2} className="chat-title" data-testid="chat-title" id="chat-title">
            {conv.title}
            {conv.muted && <StopOutlined className="muted-icon" data-testid="chat-muted" aria-label={t("mute.muted")} />}
          </Typography.Title>
          {presence && (
            <div className="chat-subtitle" data-testid="chat-presence">
              <PresenceDot p={presence} now={now} withText />
            </div>
          )}
        </div>
        <Space>
          {onToggleMute && (
            <Tooltip title={conv.muted ? t("mute.unmute") : t("mute.mute")}>
              <Button
                icon={conv.muted ? <BellOutlined /> : <StopOutlined />}
                onClick={() => onToggleMute(conv.key)}
                data-testid="mute-toggle"
                data-muted={conv.muted ? "1" : "0"}
                aria-pressed={conv.muted}
                aria-label={conv.muted ? t("mute.unmute") : t("mute.mute")}
              />
            </Tooltip>
          )}
          {conv.kind === "group" ? (
            <Tooltip title={t("chat.members")}>
              <Button icon={<TeamOutlined />} onClick={openMembers} data-testid="members-open" aria-label={t("chat.members")} />
            </Tooltip>
          ) : (
            <>
              <Tooltip title={t("chat.audioCall")}>
                <Button icon={<PhoneOutlined />} disabled={callBusy} onClick={() => onCall("audio")} data-testid="call-audio" aria-label={t("chat.audioCall")} />
              </Tooltip>
              <Tooltip title={t("chat.videoCall")}>
                <Button icon={<VideoCameraOutlined />} disabled={callBusy} onClick={() => onCall("video")} data-testid="call-video" aria-label={t("chat.videoCall")} />
              </Tooltip>
            </>
          )}
        </Space>
      </header>
      {/* Focusable so that the keyboard can scroll it; its own announcements
          come from the panel's live region, not from here. */}
      <div
        className="messages"
        ref={listRef}
        data-testid="message-list"
        role="log"
        aria-live="off"
        aria-label={t("chat.messages")}
        tabIndex={0}
        onScroll={onScroll}
        data-complete={complete ? "1" : "0"}
      >
        {complete && messages.length > 0 && (
          <div className="history-start" data-testid="history-start">
            {t("chat.historyStart")}
          </div>
        )}
        {loadingOlder && (
          <div className="history-loading" data-testid="history-loading">
            {t("chat.loadingOlder")}
          </div>
        )}
        {messages.map((m) => (
          <MessageItem
            key={m.key}
            m={m}
            me={me}
            now={now}
            group={conv.kind === "group"}
            onRetry={onRetry}
            seen={receipts && conv.kind === "user" && m.mine && m.id > 0 && m.id <= (conv.peerReadId || 0)}
            seenBy={receipts && conv.kind === "group" && m.mine && m.id > 0}
          />
        ))}
      </div>
      <div className="typing-line" data-testid="typing" aria-live="polite">
        {typing.length === 1
          ? t("presence.typing", { name: typing[0] })
          : typing.length > 1
            ? t("presence.typingMany", { names: typing.join(", ") })
            : ""}
      </div>
      {!atBottom && (
        <Button
          className="jump-latest"
          shape="round"
          icon={<ArrowDownOutlined />}
          onClick={jumpToLatest}
          data-testid="jump-latest"
        >
          {t("chat.jumpLatest")}
        </Button>
      )}
      <div className="composer">
        <Space className="tools" wrap>
          <Popover
            content={emojiGrid}
            trigger="click"
            open={emojiOpen}
            onOpenChange={setEmojiOpen}
            afterOpenChange={(opened) => {
              // Opened from the keyboard or not, the first emoji takes the focus.
              const first = opened && document.querySelector('[data-testid="emoji-grid"] button');
              if (first) first.focus();
            }}
          >
            <Button
              ref={emojiButton}
              icon={<SmileOutlined />}
              data-testid="emoji-open"
              aria-label={t("chat.emoji")}
              aria-expanded={emojiOpen}
              aria-haspopup="true"
            />
          </Popover>
          <Tooltip title={t("chat.sendFile")}>
            <Button icon={<PaperClipOutlined />} loading={uploading} onClick={() => fileInput.current.click()} data-testid="file-open" aria-label={t("chat.sendFile")} />
          </Tooltip>
          <Recorder kind="audio" icon={<AudioOutlined />} testid="record-voice" onDone={(blob) => sendFile(blob, `voice-${Date.now()}.webm`, { audioOnly: true })} />
          <Recorder kind="video" icon={<VideoCameraAddOutlined />} testid="record-video" onDone={(blob) => sendFile(blob, `video-${Date.now()}.webm`)} />
        </Space>
        <input
          ref={fileInput}
          type="file"
          style={{ display: "none" }}
          data-testid="file-input"
          tabIndex={-1}
          aria-hidden="true"
          onChange={(e) => {
            const f = e.target.files && e.target.files[0];
            e.target.value = "";
            if (f) sendFile(f);
          }}
        />
        <div className="input-row">
          <Input.TextArea
            id="messageArea"
            ref={inputRef}
            aria-label={t("chat.inputLabel")}
            value={text}
            onChange={(e) => {
              setText(e.target.value);
              if (onTyping) onTyping(e.target.value.trim() !== "");
            }}
            onPaste={onPaste}
            onPressEnter={(e) => {
              if (!e.shiftKey) {
                e.preventDefault();
                sendText();
              }
            }}
            autoSize={{ minRows: 1, maxRows: 4 }}
            placeholder={t("chat.placeholder")}
            data-testid="message-input"
          />
          <Button type="primary" icon={<SendOutlined />} onClick={sendText} data-testid="send-button" aria-label={t("chat.send")}>
            {narrow ? "" : t("chat.send")}
          </Button>
        </div>
      </div>
      <Drawer title={t("chat.membersOf", { name: conv.name })} open={membersOpen} onClose={() => setMembersOpen(false)} width={narrow ? "100%" : 320}>
        <List
          dataSource={members}
          renderItem={(u) => (
            <List.Item data-testid="member-item" data-name={u.username}>
              <List.Item.Meta
                avatar={<Avatar src={u.avatar ? fileUrl(u.avatar) : undefined} icon={<UserOutlined />} />}
                title={
                  <span>
                    {u.nickname || u.username}
                    <PresenceDot p={presenceAll[u.uuid]} now={now} withText />
                  </span>
                }
                description={u.username}
              />
            </List.Item>
          )}
        />
      </Drawer>
    </main>
  );
}
