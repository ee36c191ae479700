// The call window: ringing (accept / reject), dialing (cancel), and the call
// itself (local and remote media, screen sharing, hang up).
import { useEffect, useRef } from "react";
import { Button, Card, Space, Tag, Typography } from "antd";
import {
  DesktopOutlined,
  PhoneOutlined,
  StopOutlined,
} from "@ant-design/icons";

function Media({ stream, muted, testid, className }) {
  const ref = useRef(null);
  useEffect(() => {
    if (ref.current && ref.current.srcObject !== stream) ref.current.srcObject = stream || null;
  });
  return <video ref={ref} autoPlay playsInline muted={muted} className={className} data-testid={testid} />;
}

const TITLES = {
  dialing: "Calling",
  ringing: "Incoming call from",
  connecting: "Connecting to",
  connected: "In a call with",
};

export default function CallPanel({ state, calls }) {
  if (!calls || state.phase === "idle") return null;
  const { phase, kind, peer, sharing } = state;
  const video = kind === "video";
  return (
    <Card
      className="call-panel"
      size="small"
      data-testid="call-panel"
      data-phase={phase}
      data-kind={kind}
      title={
        <Space>
          <Tag color={video ? "blue" : "green"}>{video ? "video call" : "audio call"}</Tag>
          <Typography.Text>
            {TITLES[phase]} <b data-testid="call-peer">{peer?.username}</b>
          </Typography.Text>
        </Space>
      }
    >
      <div className={`call-media ${video || sharing || state.remoteVideo ? "with-video" : "audio-only"}`}>
        <Media stream={state.remoteStream} testid="remote-video" className="remote-video" />
        {video && <Media stream={state.screenStream || state.localStream} muted testid="local-video" className="local-video" />}
      </div>
      <Space className="call-actions" wrap>
        {phase === "ringing" && (
          <>
            <Button type="primary" icon={<PhoneOutlined />} onClick={() => calls.accept()} data-testid="call-accept">
              Accept
            </Button>
            <Button danger onClick={() => calls.reject()} data-testid="call-reject">
              Reject
            </Button>
          </>
        )}
        {phase === "dialing" && (
          <Button danger onClick={() => calls.hangup()} data-testid="call-cancel">
            Cancel
          </Button>
        )}
        {(phase === "connecting" || phase === "connected") && (
          <>
            {sharing ? (
              <Button icon={<StopOutlined />} onClick={() => calls.stopShare()} data-testid="call-stop-share">
                Stop sharing
              </Button>
            ) : (
              <Button
                icon={<DesktopOutlined />}
                disabled={phase !== "connected"}
                onClick={() => calls.shareScreen()}
                data-testid="call-share-screen"
              >
                Share screen
              </Button>
            )}
            <Button danger onClick={() => calls.hangup()} data-testid="call-hangup">
              Hang up
            </Button>
          </>
        )}
      </Space>
    </Card>
  );
}
