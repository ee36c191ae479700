// Desktop notifications (the Notification API) for messages that arrive while
// the tab is hidden, except in muted conversations. Permission is asked only
// from a user gesture (the profile dialog's button), never on load.

export function notificationsSupported() {
  return typeof window !== "undefined" && "Notification" in window;
}

// "granted" | "denied" | "default" | "unsupported"
export function notificationPermission() {
  return notificationsSupported() ? window.Notification.permission : "unsupported";
}

export async function askNotificationPermission() {
  if (!notificationsSupported()) return "unsupported";
  try {
    return await window.Notification.requestPermission();
  } catch {
    return window.Notification.permission;
  }
}

// Whether a message deserves a desktop notification: not own, not during a
// catch-up, not in a muted conversation, only while the tab is hidden.
export function shouldNotify({ mine, syncing, muted, hidden, permission }) {
  return !mine && !syncing && !muted && hidden && permission === "granted";
}

// Shows one; a click brings the tab forward and opens the conversation. The
// tag replaces an older notification of the same conversation.
export function showNotification({ title, body, tag, onClick }) {
  try {
    const n = new window.Notification(title, { body, tag });
    n.onclick = () => {
      window.focus();
      if (onClick) onClick();
      n.close();
    };
    return n;
  } catch {
    return null; // some browsers allow them only from a service worker
  }
}
