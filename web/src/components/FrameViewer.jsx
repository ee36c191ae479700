// Shows the JPEG frames (content types 8 and 9) an older client sends for
// its video or screen, in a small floating viewer.
import { Button, Card } from "antd";
import { CloseOutlined } from "@ant-design/icons";
import { useTranslation } from "react-i18next";

export default function FrameViewer({ frame, onClose }) {
  const { t } = useTranslation();
  if (!frame) return null;
  const title = frame.kind === "screen" ? t("frames.screenFrom", { name: frame.from }) : t("frames.videoFrom", { name: frame.from });
  return (
    <Card
      size="small"
      className="frame-viewer"
      data-testid="frame-viewer"
      data-kind={frame.kind}
      title={title}
      extra={<Button size="small" type="text" icon={<CloseOutlined />} onClick={onClose} aria-label={t("common.close")} />}
      onKeyDown={(e) => e.key === "Escape" && onClose()}
    >
      <img src={frame.src} alt={title} className="frame-img" data-testid="frame-img" />
    </Card>
  );
}
