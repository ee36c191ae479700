import { Avatar, Tooltip } from "antd";
import { ExclamationCircleOutlined, LoadingOutlined, PaperClipOutlined, UserOutlined } from "@ant-design/icons";
import { fileUrl } from "../api";
import { CT } from "../proto";

// Older clients may carry a file inline as a data URL in content instead of
// a stored file name in url.
function source(m) {
  if (m.url) return { url: fileUrl(m.url), name: m.content || m.url };
  if (m.content && m.content.startsWith("data:")) return { url: m.content, name: "file" };
  return { url: "", name: m.content || "file" };
}

function Body({ m }) {
  const { url, name } = source(m);
  switch (m.contentType) {
    case CT.TEXT:
      return <div className="text">{m.content}</div>;
    case CT.IMAGE:
      return (
        <a href={url} target="_blank" rel="noreferrer">
          <img className="media-img" src={url} alt={name} data-testid="msg-image" />
        </a>
      );
    case CT.AUDIO:
      return <audio className="media-audio" src={url} controls preload="metadata" data-testid="msg-audio" />;
    case CT.VIDEO:
      return <video className="media-video" src={url} controls preload="metadata" data-testid="msg-video" />;
    default:
      return (
        <a href={url} download={name} data-testid="msg-file">
          <PaperClipOutlined /> {name}
        </a>
      );
  }
}

function time(ms) {
  if (!ms) return "";
  const d = new Date(ms);
  const now = new Date();
  const hm = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return d.toDateString() === now.toDateString() ? hm : `${d.toLocaleDateString()} ${hm}`;
}

export default function MessageItem({ m, group, onRetry }) {
  return (
    <div
      className={`msg ${m.mine ? "mine" : "theirs"}`}
      data-testid="msg"
      data-mine={m.mine ? "1" : "0"}
      data-status={m.status}
      data-content-type={m.contentType}
      data-sender={m.senderName}
    >
      {!m.mine && <Avatar size="small" src={m.avatar ? fileUrl(m.avatar) : undefined} icon={<UserOutlined />} />}
      <div className="bubble-wrap">
        {group && !m.mine && <div className="sender">{m.senderName}</div>}
        <div className="bubble">
          <Body m={m} />
        </div>
        <div className="meta">
          {time(m.createAt)}
          {m.status === "sending" && <LoadingOutlined className="status" />}
          {m.status === "failed" && (
            <Tooltip title="Send again">
              <span
                className="failed"
                data-testid="msg-failed"
                role="button"
                tabIndex={0}
                onClick={() => onRetry && onRetry(m)}
              >
                <ExclamationCircleOutlined /> {m.error || "not sent"}
              </span>
            </Tooltip>
          )}
        </div>
      </div>
    </div>
  );
}
