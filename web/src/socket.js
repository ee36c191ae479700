// The WebSocket to the server: protobuf frames, a heartbeat, and automatic
// reconnection with exponential backoff.
import { decodeMessage, encodeMessage } from "./proto";

const MIN_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 8000;

export class ChatSocket {
  constructor({ userUuid, token, heartbeatSeconds = 10 }) {
    this.userUuid = userUuid;
    this.token = token;
    this.heartbeatMs = heartbeatSeconds * 1000;
    this.ws = null;
    this.state = "connecting";
    this.closed = false;
    this.backoff = MIN_BACKOFF_MS;
    this.connects = 0;
    this.listeners = { message: new Set(), state: new Set(), open: new Set() };
    this.heartbeat = null;
    this.retry = null;
  }

  on(event, fn) {
    this.listeners[event].add(fn);
    return () => this.listeners[event].delete(fn);
  }

  emit(event, arg) {
    for (const fn of this.listeners[event]) {
      try {
        fn(arg);
      } catch (e) {
        console.error(e);
      }
    }
  }

  setState(state) {
    this.state = state;
    this.emit("state", state);
  }

  url() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    let u = `${proto}//${location.host}/socket.io?user=${encodeURIComponent(this.userUuid)}`;
    if (this.token) u += `&token=${encodeURIComponent(this.token)}`;
    return u;
  }

  connect() {
    if (this.closed) return;
    this.setState(this.connects === 0 ? "connecting" : "reconnecting");
    const ws = new WebSocket(this.url());
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      if (ws !== this.ws) return;
      this.backoff = MIN_BACKOFF_MS;
      const reconnected = this.connects > 0;
      this.connects += 1;
      this.setState("open");
      this.startHeartbeat();
      this.emit("open", { reconnected });
    };
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      if (!(ev.data instanceof ArrayBuffer)) return;
      let msg;
      try {
        msg = decodeMessage(ev.data);
      } catch (e) {
        console.warn("undecodable frame", e);
        return;
      }
      this.emit("message", msg);
    };
    ws.onclose = () => {
      if (ws !== this.ws) return;
      this.stopHeartbeat();
      this.ws = null;
      if (this.closed) {
        this.setState("closed");
        return;
      }
      this.setState("reconnecting");
      const wait = this.backoff;
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
      this.retry = setTimeout(() => this.connect(), wait);
    };
    ws.onerror = () => {
      // onclose follows and schedules the retry.
    };
  }

  startHeartbeat() {
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => {
      this.send({ type: "heatbeat", content: "ping" });
    }, this.heartbeatMs);
  }

  stopHeartbeat() {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  isOpen() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  // Sends one protocol.Message; returns false when the socket is not open.
  send(fields) {
    if (!this.isOpen()) return false;
    this.ws.send(encodeMessage(fields));
    return true;
  }

  close() {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.stopHeartbeat();
    if (this.ws) this.ws.close(1000);
    this.setState("closed");
  }
}
