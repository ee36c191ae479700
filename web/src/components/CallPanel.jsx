// The call window: ringing (accept / reject), dialing (cancel), and the call
// itself (local and remote media, screen sharing, hang up).
//
// Keyboard: the panel takes the focus when it opens (on its first action), and
// Escape ends what it shows: rejects a ringing call, cancels a dial, hangs up.
// It is a labelled region, so a screen reader finds it; its title is read out
// when it changes (aria-live), e.g. from "Calling" to "In a call with".
import { useEffect, useRef, useState } from "react";
import { Button, Card, Space, Tag } from "antd";
import {
  AudioMutedOutlined,
  AudioOutlined,
  CompressOutlined,
  DesktopOutlined,
  ExpandOutlined,
  PhoneOutlined,
  StopOutlined,
  VideoCameraOutlined,
} from "@ant-design/icons";
import { Trans, useTranslation } from "react-i18next";

function Media({ stream, muted, testid, className, label }) {
  const ref = useRef(null);
  useEffect(() => {
    if (ref.current && ref.current.srcObject !== stream) ref.current.srcObject = stream || null;
  });
  return (
    <video ref={ref} autoPlay playsInline muted={muted} className={className} data-testid={testid} aria-label={label} />
  );
}

// Only literal keys, so that the build's check sees each one.
function title(phase) {
  switch (phase) {
    case "dialing":
      return "call.dialing";
    case "ringing":
      return "call.ringing";
    case "connecting":
      return "call.connecting";
    default:
      return "call.connected";
  }
}

// m:ss (h:mm:ss past an hour) since the call came up, ticking each second.
export function clock(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

function Timer({ since }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(id);
  }, []);
  const seconds = Math.max(0, Math.floor((now - since) / 1000));
  return (
    <span className="call-timer" data-testid="call-timer" data-seconds={seconds}>
      {clock(seconds)}
    </span>
  );
}

export default function CallPanel({ state, calls }) {
  const [large, setLarge] = useState(false);
  const { t } = useTranslation();
  const panel = useRef(null);
  const phase = state.phase;
  const open = !!calls && phase !== "idle";

  // Focus moves into the panel when it opens, and back where it was after.
  useEffect(() => {
    if (!open) return undefined;
    const before = document.activeElement;
    const first = panel.current && panel.current.querySelector(".call-actions button:not([disabled])");
    if (first) first.focus();
    return () => {
      if (before && document.contains(before) && before.focus) before.focus();
    };
  }, [open]);

  // Escape anywhere while no dialog is open (a dialog's Escape is its own).
  useEffect(() => {
    if (!open) return undefined;
    const onKey = (e) => {
      if (e.key !== "Escape" || e.defaultPrevented) return;
      if (document.querySelector(".ant-modal-wrap:not([style*='display: none']) .ant-modal")) return;
      if (phase === "ringing") calls.reject();
      else calls.hangup();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [open, phase, calls]);

  if (!open) return null;
  const { kind, peer, sharing } = state;
  const video = kind === "video";
  // Translation keys for the title, one per phase (literal, for the build's check).
  const titleKey = title(phase);
  return (
    <section ref={panel} aria-labelledby="call-title" className="call-panel-region">
      <Card
        className={`call-panel${large ? " large" : ""}`}
        data-large={large ? "1" : "0"}
        size="small"
        data-testid="call-panel"
        data-phase={phase}
        data-kind={kind}
        title={
          <Space>
            <Tag color={video ? "blue" : "purple"}>{video ? t("call.video") : t("call.audio")}</Tag>
            <span id="call-title" aria-live="polite">
              <Trans
                i18nKey={titleKey}
                values={{ name: peer?.username || "" }}
                components={{ b: <b data-testid="call-peer" /> }}
              />
            </span>
            {state.connectedAt && <Timer since={state.connectedAt} />}
          </Space>
        }
        extra={
          <Button
            type="text"
            size="small"
            icon={large ? <CompressOutlined /> : <ExpandOutlined />}
            onClick={() => setLarge(!large)}
            aria-label={large ? t("call2.shrink") : t("call2.enlarge")}
            aria-pressed={large}
            data-testid="call-enlarge"
          />
        }
      >
        <div className={`call-media ${video || sharing || state.remoteVideo ? "with-video" : "audio-only"}`}>
          <Media stream={state.remoteStream} testid="remote-video" className="remote-video" label={t("call.remoteVideo")} />
          {video && (
            <Media
              stream={state.screenStream || state.localStream}
              muted
              testid="local-video"
              className="local-video"
              label={t("call.localVideo")}
            />
          )}
        </div>
        <Space className="call-actions" wrap>
          {phase === "ringing" && (
            <>
              <Button type="primary" icon={<PhoneOutlined />} onClick={() => calls.accept()} data-testid="call-accept">
                {t("call.accept")}
              </Button>
              <Button danger onClick={() => calls.reject()} data-testid="call-reject" aria-keyshortcuts="Escape">
                {t("call.reject")}
              </Button>
            </>
          )}
          {phase === "dialing" && (
            <Button danger onClick={() => calls.hangup()} data-testid="call-cancel" aria-keyshortcuts="Escape">
              {t("common.cancel")}
            </Button>
          )}
          {(phase === "connecting" || phase === "connected") && (
            <>
              <Button
                icon={state.micOff ? <AudioMutedOutlined /> : <AudioOutlined />}
                onClick={() => calls.toggleMic()}
                aria-pressed={!!state.micOff}
                data-testid="call-mute"
              >
                {state.micOff ? t("call2.unmute") : t("call2.mute")}
              </Button>
              {video && (
                <Button
                  icon={<VideoCameraOutlined />}
                  onClick={() => calls.toggleCamera()}
                  aria-pressed={!!state.cameraOff}
                  data-testid="call-camera"
                >
                  {state.cameraOff ? t("call2.cameraOn") : t("call2.cameraOff")}
                </Button>
              )}
              {sharing ? (
                <Button icon={<StopOutlined />} onClick={() => calls.stopShare()} data-testid="call-stop-share">
                  {t("call.stopShare")}
                </Button>
              ) : (
                <Button
                  icon={<DesktopOutlined />}
                  disabled={phase !== "connected"}
                  onClick={() => calls.shareScreen()}
                  data-testid="call-share-screen"
                >
                  {t("call.share")}
                </Button>
              )}
              <Button danger onClick={() => calls.hangup()} data-testid="call-hangup" aria-keyshortcuts="Escape">
                {t("call.hangup")}
              </Button>
            </>
          )}
        </Space>
      </Card>
    </section>
  );
}
