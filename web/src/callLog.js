// "Audio call, 3 min" lines in a conversation, made on each side from the
// call's own end (nothing is stored on the server: the line is not a message
// and old clients never see one). They are kept in this browser's
// localStorage per user, so a reload keeps them; another device of the same
// user shows the lines of the calls it took part in.
// Lines kept per conversation, the newest.
const KEEP = 50;

function storageKey(me) {
  return `chat-trio.callLog.${me}`;
}

export function loadCallLog(me) {
  try {
    const data = JSON.parse(localStorage.getItem(storageKey(me)) || "{}");
    return data && typeof data === "object" ? data : {};
  } catch {
    return {};
  }
}

export function saveCallLog(me, log) {
  try {
    localStorage.setItem(storageKey(me), JSON.stringify(log));
  } catch {
    // storage full or off: the lines last as long as the page
  }
}

// The log with one more ended call ({ at, kind, seconds }) in conversation key.
export function addCall(log, key, entry) {
  const list = [...(log[key] || []), entry].slice(-KEEP);
  return { ...log, [key]: list };
}

// "3 min" from a minute on (rounded), "45 s" below.
// t is i18next's translate function.
export function callDuration(seconds, t) {
  return seconds >= 60 ? t("call2.minutes", { n: Math.round(seconds / 60) }) : t("call2.seconds", { n: seconds });
}

export function callLine(entry, t) {
  const duration = callDuration(entry.seconds, t);
  return entry.kind === "video" ? t("call2.logVideo", { duration }) : t("call2.logAudio", { duration });
}

// The conversation's messages with its call lines placed by time: each line
// goes before the first message made after the call ended.
export function withCallLines(messages, entries) {
  if (!entries || entries.length === 0) return messages;
  const lines = entries
    .map((e) => ({ key: `call-${e.at}`, callLog: true, createAt: e.at, kind: e.kind, seconds: e.seconds }))
    .sort((a, b) => a.createAt - b.createAt);
  const out = [];
  let i = 0;
  for (const m of messages) {
    while (i < lines.length && m.createAt && m.createAt > lines[i].createAt) out.push(lines[i++]);
    out.push(m);
  }
  while (i < lines.length) out.push(lines[i++]);
  return out;
}
