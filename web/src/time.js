// Times of messages in the user's language, through Intl: "just now" under a
// minute, then "5 minutes ago" / "hace 5 minutos" / "5分钟前" up to a day,
// then the date and time as that language writes them.
import { useEffect, useState } from "react";
import i18n from "./i18n";

const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export function relativeTime(ms, now = Date.now(), lng = i18n.language) {
  if (!ms) return "";
  const ago = now - ms;
  if (ago < MINUTE) return i18n.t("time.justNow", { lng });
  const rtf = new Intl.RelativeTimeFormat(lng, { numeric: "auto" });
  if (ago < HOUR) return rtf.format(-Math.floor(ago / MINUTE), "minute");
  if (ago < DAY) return rtf.format(-Math.floor(ago / HOUR), "hour");
  return fullTime(ms, lng);
}

export function fullTime(ms, lng = i18n.language) {
  if (!ms) return "";
  return new Intl.DateTimeFormat(lng, { dateStyle: "medium", timeStyle: "short" }).format(new Date(ms));
}

// The current time, renewed every `everyMs`, so that relative times move on.
export function useNow(everyMs = 30 * 1000) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(id);
  }, [everyMs]);
  return now;
}
