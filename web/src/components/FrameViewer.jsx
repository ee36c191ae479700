// Shows the JPEG frames (content types 8 and 9) an older client sends for
// its video or screen, in a small floating viewer.
import { Button, Card } from "antd";
import { CloseOutlined } from "@ant-design/icons";

export default function FrameViewer({ frame, onClose }) {
  if (!frame) return null;
  return (
    <Card
      size="small"
      className="frame-viewer"
      data-testid="frame-viewer"
      data-kind={frame.kind}
      title={`${frame.kind === "screen" ? "Screen" : "Video"} from ${frame.from}`}
      extra={<Button size="small" type="text" icon={<CloseOutlined />} onClick={onClose} aria-label="close" />}
    >
      <img src={frame.src} alt={`${frame.kind} frame`} className="frame-img" data-testid="frame-img" />
    </Card>
  );
}
