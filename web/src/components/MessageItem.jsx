import { useState } from "react";
import { Avatar, Tooltip } from "antd";
import { ExclamationCircleOutlined, LoadingOutlined, PaperClipOutlined, UserOutlined } from "@ant-design/icons";
import { useTranslation } from "react-i18next";
import i18n from "../i18n";
import { Api, fileUrl } from "../api";
import { fullTime, relativeTime } from "../time";
import { CT } from "../proto";
import MediaPlayer from "./MediaPlayer";
import { callLine } from "../callLog";

// Older clients may carry a file inline as a data URL in content instead of
// a stored file name in url.
function source(m) {
  if (m.url) return { url: fileUrl(m.url), name: m.content || m.url };
  if (m.content && m.content.startsWith("data:")) return { url: m.content, name: i18n.t("preview.fileName") };
  return { url: "", name: m.content || i18n.t("preview.fileName") };
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
      return <MediaPlayer kind="audio" className="media-audio" src={url} testid="msg-audio" label={i18n.t("preview.voice")} />;
    case CT.VIDEO:
      return <MediaPlayer kind="video" className="media-video" src={url} testid="msg-video" label={i18n.t("preview.video")} />;
    default:
      return (
        <a href={url} download={name} data-testid="msg-file">
          <PaperClipOutlined /> {name}
        </a>
      );
  }
}

// "Seen by N" under an own group message, loaded on demand (GET /message/{id}/seen).
function SeenBy({ id }) {
  const { t } = useTranslation();
  const [seen, setSeen] = useState(null);
  const load = async () => {
    try {
      setSeen(await Api.seen(id));
    } catch {
      setSeen({ count: 0, users: [] });
    }
  };
  if (!seen) {
    return (
      <button type="button" className="seen" data-testid="seen-by-load" onClick={load}>
        {t("receipts.whoSaw")}
      </button>
    );
  }
  const names = (seen.users || []).map((u) => u.nickname || u.username).join(", ");
  // pressed again, it asks again (group positions are not pushed)
  return (
    <button type="button" className="seen" data-testid="seen-by" data-count={seen.count} onClick={load}>
      {seen.count ? t("receipts.seenBy", { count: seen.count, names }) : t("receipts.seenByNone")}
    </button>
  );
}

export default function MessageItem({ m, group, onRetry, now, seen = false, seenBy = false }) {
  const { t } = useTranslation();
  if (m.callLog) {
    return (
      <div className="call-log" data-testid="call-log" data-seconds={m.seconds} role="note">
        {callLine(m, t)}
      </div>
    );
  }
  return (
    <div
      className={`msg ${m.mine ? "mine" : "theirs"}`}
      data-testid="msg"
      data-id={m.id || undefined}
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
          {m.createAt ? (
            <time dateTime={new Date(m.createAt).toISOString()} title={fullTime(m.createAt)} data-testid="msg-time">
              {relativeTime(m.createAt, now)}
            </time>
          ) : null}
          {seen && (
            <span className="seen" data-testid="seen">
              {t("receipts.seen")}
            </span>
          )}
          {seenBy && <SeenBy id={m.id} />}
          {m.status === "sending" && <LoadingOutlined className="status" aria-label={t("chat.sending")} />}
          {m.status === "failed" && (
            <Tooltip title={t("chat.sendAgain")}>
              <button
                type="button"
                className="failed"
                data-testid="msg-failed"
                aria-label={t("chat.failedRetry", { reason: m.error || t("chat.notSent") })}
                onClick={() => onRetry && onRetry(m)}
              >
                <ExclamationCircleOutlined /> {m.error || t("chat.notSent")}
              </button>
            </Tooltip>
          )}
        </div>
      </div>
    </div>
  );
}
