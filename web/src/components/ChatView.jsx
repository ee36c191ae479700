// The open conversation: header, messages, and the composer (text, emoji,
// files, pasted images, voice and video recordings), plus call buttons.
import { useEffect, useRef, useState } from "react";
import { Button, Drawer, Empty, Input, List, Avatar, Popover, Space, Tooltip, Typography, message } from "antd";
import {
  ArrowLeftOutlined,
  AudioOutlined,
  PaperClipOutlined,
  PhoneOutlined,
  SendOutlined,
  SmileOutlined,
  TeamOutlined,
  UserOutlined,
  VideoCameraOutlined,
  VideoCameraAddOutlined,
} from "@ant-design/icons";
import { Api, fileUrl } from "../api";
import MessageItem from "./MessageItem";
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
  onBack,
  onSend,
  onRetry,
  onCall,
  callBusy,
  maxUploadBytes,
}) {
  const [text, setText] = useState("");
  const [emojiOpen, setEmojiOpen] = useState(false);
  const [uploading, setUploading] = useState(false);
  const [membersOpen, setMembersOpen] = useState(false);
  const [members, setMembers] = useState([]);
  const listRef = useRef(null);
  const fileInput = useRef(null);

  useEffect(() => {
    const el = listRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [messages.length, conv && conv.key]);

  useEffect(() => {
    setText("");
    setMembersOpen(false);
  }, [conv && conv.key]);

  if (!conv) {
    return (
      <div className="chat chat-empty" data-testid="chat-empty">
        <Empty description="Pick a conversation" />
      </div>
    );
  }

  const sendText = () => {
    const t = text.trim();
    if (!t) return;
    onSend({ contentType: 1, content: t });
    setText("");
  };

  // Uploads a file or recording over HTTP, then sends its name in a frame.
  // A voice recording is audio even when its WebM container sniffs as video.
  const sendFile = async (file, name, { audioOnly = false } = {}) => {
    name = name || file.name || "file";
    if (maxUploadBytes && file.size > maxUploadBytes) {
      message.error(`${name} is too large (limit ${Math.round(maxUploadBytes / 1024 / 1024)} MB)`);
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
    try {
      setMembers((await Api.groupMembers(conv.key)) || []);
    } catch {
      setMembers([]);
    }
  };

  const emojiGrid = (
    <div className="emoji-grid" data-testid="emoji-grid">
      {EMOJIS.map((e) => (
        <button
          key={e}
          type="button"
          className="emoji"
          data-testid="emoji-item"
          onClick={() => {
            setText((t) => t + e);
            setEmojiOpen(false);
          }}
        >
          {e}
        </button>
      ))}
    </div>
  );

  return (
    <div className="chat" data-testid="chat" data-conv={conv.name}>
      <div className="chat-header">
        {narrow && <Button icon={<ArrowLeftOutlined />} onClick={onBack} data-testid="back-button" aria-label="back" />}
        <Typography.Title level={5} className="chat-title" data-testid="chat-title">
          {conv.title}
        </Typography.Title>
        <Space>
          {conv.kind === "group" ? (
            <Tooltip title="Members">
              <Button icon={<TeamOutlined />} onClick={openMembers} data-testid="members-open" aria-label="members" />
            </Tooltip>
          ) : (
            <>
              <Tooltip title="Audio call">
                <Button icon={<PhoneOutlined />} disabled={callBusy} onClick={() => onCall("audio")} data-testid="call-audio" aria-label="audio call" />
              </Tooltip>
              <Tooltip title="Video call">
                <Button icon={<VideoCameraOutlined />} disabled={callBusy} onClick={() => onCall("video")} data-testid="call-video" aria-label="video call" />
              </Tooltip>
            </>
          )}
        </Space>
      </div>
      <div className="messages" ref={listRef} data-testid="message-list">
        {messages.map((m) => (
          <MessageItem key={m.key} m={m} me={me} group={conv.kind === "group"} onRetry={onRetry} />
        ))}
      </div>
      <div className="composer">
        <Space className="tools" wrap>
          <Popover content={emojiGrid} trigger="click" open={emojiOpen} onOpenChange={setEmojiOpen}>
            <Button icon={<SmileOutlined />} data-testid="emoji-open" aria-label="emoji" />
          </Popover>
          <Tooltip title="Send a file">
            <Button icon={<PaperClipOutlined />} loading={uploading} onClick={() => fileInput.current.click()} data-testid="file-open" aria-label="file" />
          </Tooltip>
          <Recorder kind="audio" icon={<AudioOutlined />} testid="record-voice" onDone={(blob) => sendFile(blob, `voice-${Date.now()}.webm`, { audioOnly: true })} />
          <Recorder kind="video" icon={<VideoCameraAddOutlined />} testid="record-video" onDone={(blob) => sendFile(blob, `video-${Date.now()}.webm`)} />
        </Space>
        <input
          ref={fileInput}
          type="file"
          style={{ display: "none" }}
          data-testid="file-input"
          onChange={(e) => {
            const f = e.target.files && e.target.files[0];
            e.target.value = "";
            if (f) sendFile(f);
          }}
        />
        <div className="input-row">
          <Input.TextArea
            id="messageArea"
            value={text}
            onChange={(e) => setText(e.target.value)}
            onPaste={onPaste}
            onPressEnter={(e) => {
              if (!e.shiftKey) {
                e.preventDefault();
                sendText();
              }
            }}
            autoSize={{ minRows: 1, maxRows: 4 }}
            placeholder="Message (Enter sends, paste an image to send it)"
            data-testid="message-input"
          />
          <Button type="primary" icon={<SendOutlined />} onClick={sendText} data-testid="send-button">
            {narrow ? "" : "Send"}
          </Button>
        </div>
      </div>
      <Drawer title={`Members of ${conv.name}`} open={membersOpen} onClose={() => setMembersOpen(false)} width={narrow ? "100%" : 320}>
        <List
          dataSource={members}
          renderItem={(u) => (
            <List.Item data-testid="member-item" data-name={u.username}>
              <List.Item.Meta
                avatar={<Avatar src={u.avatar ? fileUrl(u.avatar) : undefined} icon={<UserOutlined />} />}
                title={u.nickname || u.username}
                description={u.username}
              />
            </List.Item>
          )}
        />
      </Drawer>
    </div>
  );
}
