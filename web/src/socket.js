// The WebSocket to the server: protobuf frames, a heartbeat, and automatic
// reconnection with exponential backoff. The handshake is authenticated by the
// login cookie (same origin), so the URL carries no token.
import { decodeMessage, encodeMessage } from "./proto";

// The optional frames this client understands (docs/protocol.md, "Connecting").
const FEATURES = "presence,typing,reads";
const MIN_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 8000;
// A handshake that has not finished by then is abandoned and retried.
const OPEN_TIMEOUT_MS = 10000;

export class ChatSocket {
  constructor({ userUuid, heartbeatSeconds = 10 }) {
    this.userUuid = userUuid;
    this.heartbeatMs = heartbeatSeconds * 1000;
    this.ws = null;
    this.state = "connecting";
    this.closed = false;
    this.backoff = MIN_BACKOFF_MS;
    this.connects = 0;
    this.listeners = { message: new Set(), state: new Set(), open: new Set() };
    this.heartbeat = null;
    this.retry = null;
    this.lastHeard = 0;
    this.pingSentAt = 0;
    this.missed = 0;
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
    return `${proto}//${location.host}/socket.io?user=${encodeURIComponent(this.userUuid)}&features=${FEATURES}`;
  }

  connect() {
    if (this.closed) return;
    this.setState(this.connects === 0 ? "connecting" : "reconnecting");
    const ws = new WebSocket(this.url());
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    clearTimeout(this.openTimer);
    this.openTimer = setTimeout(() => {
      if (ws === this.ws && ws.readyState === WebSocket.CONNECTING) this.dropAndRetry();
    }, OPEN_TIMEOUT_MS);
    ws.onopen = () => {
      if (ws !== this.ws) return;
      clearTimeout(this.openTimer);
      this.backoff = MIN_BACKOFF_MS;
      const reconnected = this.connects > 0;
      this.connects += 1;
      this.setState("open");
      this.startHeartbeat();
      this.emit("open", { reconnected });
    };
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      this.lastHeard = Date.now();
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
      this.dropAndRetry();
    };
    ws.onerror = () => {
      // onclose follows and schedules the retry.
    };
  }

  // Forgets the current socket (its late events are ignored) and schedules
  // the next attempt.
  dropAndRetry() {
    this.stopHeartbeat();
    const old = this.ws;
    this.ws = null;
    if (old && old.readyState <= WebSocket.OPEN) old.close();
    if (this.closed) {
      this.setState("closed");
      return;
    }
    this.setState("reconnecting");
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    this.retry = setTimeout(() => this.connect(), wait);
  }

  // Pings every heartbeatMs. When two pings in a row get no answer (nor any
  // other frame) before the next tick, the connection is taken for dead and
  // replaced. Counting ticks rather than seconds keeps a throttled background
  // tab from dropping a healthy connection.
  startHeartbeat() {
    this.stopHeartbeat();
    this.lastHeard = Date.now();
    this.pingSentAt = 0;
    this.missed = 0;
    this.heartbeat = setInterval(() => {
      if (this.pingSentAt && this.lastHeard < this.pingSentAt) this.missed += 1;
      else this.missed = 0;
      if (this.missed >= 2) {
        this.dropAndRetry();
        return;
      }
      this.pingSentAt = Date.now();
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
    clearTimeout(this.openTimer);
    if (this.retry) clearTimeout(this.retry);
    this.stopHeartbeat();
    if (this.ws) this.ws.close(1000);
    this.setState("closed");
  }
}
