// A friend's presence: a dot (online or not) and, in words, "online" or
// "last seen 5 minutes ago" in the user's language.
import { useTranslation } from "react-i18next";
import { relativeTime } from "../time";

export function presenceText(t, p, now) {
  if (!p) return "";
  if (p.online) return t("presence.online");
  if (p.lastSeen) return t("presence.lastSeen", { when: relativeTime(p.lastSeen, now) });
  return t("presence.offline");
}

export default function PresenceDot({ p, now, withText = false }) {
  const { t } = useTranslation();
  if (!p) return null;
  const text = presenceText(t, p, now);
  return (
    <span className="presence" data-testid="presence" data-online={p.online ? "1" : "0"} title={text}>
      <span className={`presence-dot ${p.online ? "on" : "off"}`} aria-hidden="true" />
      {withText ? <span className="presence-text" data-testid="presence-text">{text}</span> : <span className="sr-only">{text}</span>}
    </span>
  );
}
