// Audio and video calls: dial / accept / reject / cancel over content types
// 11-18, and WebRTC signaling through the server (type "webrtc").
import { CT } from "./proto";

const IDLE = { phase: "idle" };
// An unanswered call gives up after this long (the peer may be offline: the
// server relays a dial to nobody without saying so).
const RING_TIMEOUT_MS = 45000;

const TYPES = {
  audio: {
    dial: CT.AUDIO_DIAL,
    accept: CT.AUDIO_ACCEPT,
    cancel: CT.AUDIO_CANCEL,
    reject: CT.AUDIO_REJECT,
  },
  video: {
    dial: CT.VIDEO_DIAL,
    accept: CT.VIDEO_ACCEPT,
    cancel: CT.VIDEO_CANCEL,
    reject: CT.VIDEO_REJECT,
  },
};

function signalOf(contentType) {
  for (const kind of ["audio", "video"]) {
    for (const [signal, ct] of Object.entries(TYPES[kind])) {
      if (ct === contentType) return { kind, signal };
    }
  }
  return null;
}

export function isCallFrame(msg) {
  return msg.type === "webrtc" || signalOf(msg.contentType) !== null;
}

export class CallManager {
  // send(fields) sends one frame; notify(key, values, level) shows a status line:
  // the text under that translation key, with the values interpolated.
  // onEnded({ peer, kind, seconds }) is told of every call that was up, when
  // it ends (either side hung up, or the connection went away).
  constructor({ send, iceServers, notify, onEnded }) {
    this.send = send;
    this.onEnded = onEnded || (() => {});
    this.iceServers = iceServers || [];
    this.notify = notify || (() => {});
    this.state = IDLE;
    this.pc = null;
    this.localStream = null;
    this.remoteStream = null;
    this.screenTrack = null;
    this.cameraTrack = null;
    this.pendingIce = [];
    this.listeners = new Set();
    this.ringTimeoutMs = RING_TIMEOUT_MS;
    this.ringTimer = null;
  }

  startRinging(onTimeout) {
    clearTimeout(this.ringTimer);
    this.ringTimer = setTimeout(onTimeout, this.ringTimeoutMs);
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  set(patch) {
    this.state = { ...this.state, ...patch };
    for (const fn of this.listeners) fn(this.state);
  }

  expose() {
    window.__chatTrio = window.__chatTrio || {};
    window.__chatTrio.pc = this.pc;
    window.__chatTrio.call = this.state;
  }

  signal(signal, peerUuid = this.state.peer?.uuid, kind = this.state.kind) {
    this.send({
      to: peerUuid,
      messageType: 1,
      contentType: TYPES[kind][signal],
    });
  }

  rtc(payload) {
    this.send({
      to: this.state.peer.uuid,
      messageType: 1,
      type: "webrtc",
      content: JSON.stringify(payload),
    });
  }

  async media(kind) {
    return navigator.mediaDevices.getUserMedia({
      audio: true,
      video: kind === "video",
    });
  }

  async dial(peer, kind) {
    if (this.state.phase !== "idle") return;
    this.set({ phase: "dialing", kind, peer, role: "caller", sharing: false });
    try {
      this.localStream = await this.media(kind);
    } catch (e) {
      this.notify(kind === "video" ? "call.noCamera" : "call.noMicrophone", { reason: e.message }, "error");
      this.reset();
      return;
    }
    if (this.state.phase !== "dialing") return;
    this.set({ localStream: this.localStream });
    this.signal("dial");
    this.startRinging(() => {
      if (this.state.phase !== "dialing") return;
      this.notify("call.noAnswer", { name: this.state.peer.username }, "warning");
      this.hangup();
    });
  }

  async accept() {
    if (this.state.phase !== "ringing") return;
    clearTimeout(this.ringTimer);
    this.set({ phase: "connecting" });
    try {
      this.localStream = await this.media(this.state.kind);
    } catch (e) {
      this.notify("call.noMedia", { reason: e.message }, "error");
      this.signal("reject");
      this.reset();
      return;
    }
    this.set({ localStream: this.localStream });
    this.createPeer();
    this.signal("accept");
  }

  reject() {
    if (this.state.phase !== "ringing") return;
    this.signal("reject");
    this.reset();
  }

  // Cancels a call being dialed, or hangs up one in progress.
  hangup() {
    if (this.state.phase === "idle") return;
    if (this.state.phase === "ringing") return this.reject();
    this.signal("cancel");
    this.reset();
  }

  createPeer() {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.pc = pc;
    this.pendingIce = [];
    this.remoteStream = new MediaStream();
    this.set({ remoteStream: this.remoteStream, connection: pc.connectionState });
    for (const track of this.localStream.getTracks()) {
      pc.addTrack(track, this.localStream);
    }
    this.cameraTrack = this.localStream.getVideoTracks()[0] || null;
    pc.onicecandidate = (ev) => {
      if (!ev.candidate || pc !== this.pc) return;
      this.rtc({
        type: this.state.role === "caller" ? "offer_ice" : "answer_ice",
        iceCandidate: ev.candidate.toJSON(),
      });
    };
    pc.ontrack = (ev) => {
      if (pc !== this.pc) return;
      this.remoteStream.addTrack(ev.track);
      this.set({
        remoteStream: this.remoteStream,
        remoteVideo: this.remoteStream.getVideoTracks().length > 0,
      });
    };
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      const s = pc.connectionState;
      this.set({ connection: s });
      if (s === "connected" && this.state.phase !== "connected") {
        this.set({ phase: "connected", connectedAt: Date.now() });
      }
      if (s === "failed") {
        this.notify("call.failed", {}, "error");
        this.hangup();
      }
      this.expose();
    };
    this.expose();
    return pc;
  }

  async offer() {
    const pc = this.pc;
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    this.rtc({ type: "offer", sdp: offer.sdp });
  }

  async flushIce() {
    const queued = this.pendingIce;
    this.pendingIce = [];
    for (const c of queued) await this.pc.addIceCandidate(c);
  }

  // Handles a call frame from the server; returns nothing.
  async handle(msg) {
    if (msg.type === "webrtc") return this.handleRtc(msg);
    const sig = signalOf(msg.contentType);
    if (!sig) return;
    const fromPeer = this.state.peer && msg.from === this.state.peer.uuid;
    switch (sig.signal) {
      case "dial":
        if (this.state.phase !== "idle") {
          // Busy: refuse the second call.
          this.signal("reject", msg.from, sig.kind);
          return;
        }
        this.set({
          phase: "ringing",
          kind: sig.kind,
          role: "callee",
          sharing: false,
          peer: { uuid: msg.from, username: msg.fromUsername || msg.from },
        });
        this.startRinging(() => {
          if (this.state.phase !== "ringing") return;
          this.notify("call.missed", { name: this.state.peer.username }, "info");
          this.reset();
        });
        return;
      case "accept":
        if (!fromPeer || this.state.phase !== "dialing") return;
        clearTimeout(this.ringTimer);
        this.set({ phase: "connecting" });
        this.createPeer();
        await this.offer();
        return;
      case "reject":
      case "cancel": {
        if (!fromPeer || this.state.phase === "idle") return;
        const name = this.state.peer.username;
        // The server says why when it made the frame (another device of ours
        // answered or declined, or the peer's device went away).
        if (msg.reason === "answered-elsewhere") {
          this.notify("call2.answeredElsewhere", { name }, "info");
        } else if (msg.reason === "declined-elsewhere") {
          this.notify("call2.declinedElsewhere", { name }, "info");
        } else if (msg.reason === "disconnected") {
          this.notify("call2.disconnected", { name }, "warning");
        } else if (sig.signal === "reject") {
          this.notify("call.declined", { name }, "warning");
        } else {
          this.notify(this.state.phase === "ringing" ? "call.cancelled" : "call.hungUp", { name }, "info");
        }
        this.reset();
        return;
      }
    }
  }

  async handleRtc(msg) {
    if (!this.pc || !this.state.peer || msg.from !== this.state.peer.uuid) return;
    let data;
    try {
      data = JSON.parse(msg.content);
    } catch {
      return;
    }
    const pc = this.pc;
    if (data.type === "offer") {
      await pc.setRemoteDescription({ type: "offer", sdp: data.sdp });
      await this.flushIce();
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      this.rtc({ type: "answer", sdp: answer.sdp });
    } else if (data.type === "answer") {
      await pc.setRemoteDescription({ type: "answer", sdp: data.sdp });
      await this.flushIce();
    } else if (data.type === "offer_ice" || data.type === "answer_ice") {
      if (!data.iceCandidate) return;
      if (pc.remoteDescription) await pc.addIceCandidate(data.iceCandidate);
      else this.pendingIce.push(data.iceCandidate);
    }
  }

  // Shares the screen as the call's video track: it replaces the camera
  // track, or is added (with a new offer) in an audio call.
  async shareScreen() {
    if (!this.pc || this.screenTrack) return;
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: true });
    } catch (e) {
      this.notify("call.shareFailed", { reason: e.message }, "error");
      return;
    }
    const track = stream.getVideoTracks()[0];
    this.screenTrack = track;
    track.onended = () => this.stopShare();
    const sender = this.pc.getSenders().find((s) => s.track && s.track.kind === "video")
      || this.pc.getSenders().find((s) => s.track === null);
    if (sender) {
      await sender.replaceTrack(track);
      this.screenSender = sender;
    } else {
      this.screenSender = this.pc.addTrack(track, this.localStream);
      await this.offer();
    }
    this.set({ sharing: true, screenStream: stream });
    this.expose();
  }

  async stopShare() {
    if (!this.screenTrack) return;
    const track = this.screenTrack;
    this.screenTrack = null;
    track.onended = null;
    track.stop();
    if (this.pc && this.screenSender) {
      await this.screenSender.replaceTrack(this.cameraTrack);
    }
    this.screenSender = null;
    this.set({ sharing: false, screenStream: null });
    this.expose();
  }

  // Microphone on or off: the track stays, muted (the peer hears silence).
  toggleMic() {
    if (!this.localStream) return;
    const off = !this.state.micOff;
    for (const t of this.localStream.getAudioTracks()) t.enabled = !off;
    this.set({ micOff: off });
    this.expose();
  }

  // Camera on or off: the peer sees black frames while it is off.
  toggleCamera() {
    if (!this.localStream) return;
    const off = !this.state.cameraOff;
    for (const t of this.localStream.getVideoTracks()) t.enabled = !off;
    this.set({ cameraOff: off });
    this.expose();
  }

  reset() {
    const { connectedAt, peer, kind } = this.state;
    if (connectedAt && peer) {
      this.onEnded({ peer, kind, seconds: Math.max(0, Math.round((Date.now() - connectedAt) / 1000)) });
    }
    clearTimeout(this.ringTimer);
    if (this.screenTrack) this.screenTrack.stop();
    this.screenTrack = null;
    this.screenSender = null;
    if (this.pc) this.pc.close();
    this.pc = null;
    if (this.localStream) for (const t of this.localStream.getTracks()) t.stop();
    this.localStream = null;
    this.remoteStream = null;
    this.cameraTrack = null;
    this.pendingIce = [];
    this.state = IDLE;
    for (const fn of this.listeners) fn(this.state);
    this.expose();
  }
}
