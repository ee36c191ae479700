// HTTP API client: the {code, msg, data} envelope and a clear error message
// on failure.
//
// The login lives only in the server's HttpOnly cookie, which the browser
// sends with every same-origin request and with the socket's handshake. The
// token that login also answers (for other clients) is never stored here:
// page scripts cannot read the cookie, and a token in localStorage or in the
// socket URL would give that protection away (and put it in proxy logs).
import { message } from "antd";
import i18n, { errorText } from "./i18n";

// Versions before the cookie-only login kept the token here: forget it.
try {
  localStorage.removeItem("chatTrio.token");
} catch {
  // storage disabled: nothing was kept either
}

// msg is the text shown (in the user's language); key the server's stable
// error key ("network" when the server was not reached).
export class ApiError extends Error {
  constructor(msg, status, key = "") {
    super(msg);
    this.status = status;
    this.key = key;
  }
}

// Calls the API and returns the envelope's data. On failure shows the
// refusal in the user's language (unless quiet) and throws an ApiError.
export async function api(method, path, { json, form, quiet } = {}) {
  const headers = {};
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body,
      credentials: "same-origin",
    });
  } catch (e) {
    const err = new ApiError(i18n.t("errors.network", { reason: e.message }), 0, "network");
    if (!quiet) message.error(err.message);
    throw err;
  }
  let envelope;
  try {
    envelope = await res.json();
  } catch {
    envelope = null;
  }
  if (!res.ok || !envelope || envelope.code !== 0) {
    const key = (envelope && envelope.key) || "";
    const fallback =
      (envelope && envelope.msg) || i18n.t("errors.status", { status: res.status });
    const msg = errorText(key, fallback);
    const err = new ApiError(msg, res.status, key);
    if (!quiet) message.error(msg);
    throw err;
  }
  return envelope.data;
}

export function fileUrl(name) {
  return name ? `/file/${encodeURIComponent(name)}` : "";
}

function paging(before, limit) {
  return `${before ? `&before=${before}` : ""}${limit ? `&limit=${limit}` : ""}`;
}

export const Api = {
  register: (u) => api("POST", "/user/register", { json: u }),
  login: (u) => api("POST", "/user/login", { json: u }),
  logout: () => api("POST", "/user/logout", { quiet: true }),
  me: () => api("GET", "/user/me", { quiet: true }),
  updateUser: (u) => api("PUT", "/user", { json: u }),
  user: (uuid) => api("GET", `/user/${encodeURIComponent(uuid)}`),
  friends: (uuid) => api("GET", `/user?uuid=${encodeURIComponent(uuid)}`),
  findByName: (name) =>
    api("GET", `/user/name?name=${encodeURIComponent(name)}`),
  // a friend request, or the acceptance of theirs: {status: "requested" | "friends", user}
  askFriend: (username) => api("POST", "/friend/requests", { json: { username } }),
  // A page of a conversation's history, oldest first: the newest `limit`, or
  // the `limit` just before message id `before`.
  friendHistory: (uuid, friendUsername, { before = 0, limit = 0 } = {}) =>
    api(
      "GET",
      `/message?Uuid=${encodeURIComponent(uuid)}&MessageType=1&FriendUsername=${encodeURIComponent(friendUsername)}${paging(before, limit)}`,
      { quiet: true },
    ),
  groupHistory: (groupUuid, { before = 0, limit = 0 } = {}) =>
    api("GET", `/message?Uuid=${encodeURIComponent(groupUuid)}&MessageType=2${paging(before, limit)}`, {
      quiet: true,
    }),
  // One page of the conversation list, newest activity first.
  conversations: (before) =>
    api("GET", `/conversations?limit=200${before ? `&before=${encodeURIComponent(before)}` : ""}`, { quiet: true }),
  uploadAvatar: (uuid, file) => {
    const form = new FormData();
    form.append("uuid", uuid);
    form.append("file", file);
    return api("POST", "/file", { form });
  },
  upload: (file, name) => {
    const form = new FormData();
    form.append("file", file, name || file.name);
    return api("POST", "/upload", { form });
  },
  groups: (uuid) => api("GET", `/group/${encodeURIComponent(uuid)}`),
  createGroup: (uuid, name, notice) =>
    api("POST", `/group/${encodeURIComponent(uuid)}`, {
      json: { name, notice },
    }),
  joinGroup: (uuid, groupUuid) =>
    api(
      "POST",
      `/group/join/${encodeURIComponent(uuid)}/${encodeURIComponent(groupUuid)}`,
    ),
  groupMembers: (groupUuid) =>
    api("GET", `/group/user/${encodeURIComponent(groupUuid)}`),
  // [{uuid, online, lastSeen}] for the contacts
  presence: () => api("GET", "/presence", { quiet: true }),
  // the same for every other member of a group
  groupPresence: (uuid) => api("GET", `/presence?group=${encodeURIComponent(uuid)}`, { quiet: true }),
  // {id, count, users}: who has read up to this message
  seen: (id) => api("GET", `/message/${encodeURIComponent(id)}/seen`, { quiet: true }),
  settings: () => api("GET", "/settings", { quiet: true }),
  putSettings: (settings) => api("PUT", "/settings", { json: settings }),
  mute: (kind, uuid, muted) =>
    api("PUT", `/conversations/${kind}/${encodeURIComponent(uuid)}/mute`, { json: { muted } }),
  clientConfig: () => api("GET", "/client-config", { quiet: true }),
};
