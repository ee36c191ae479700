// Press to start recording a voice or video message, press again to send it.
import { useEffect, useRef, useState } from "react";
import { Button, Tooltip, message } from "antd";
import { StopOutlined } from "@ant-design/icons";
import { useTranslation } from "react-i18next";

const MIME = { audio: "audio/webm", video: "video/webm" };

export default function Recorder({ kind, icon, testid, onDone }) {
  const [recording, setRecording] = useState(false);
  const [stream, setStream] = useState(null);
  const [chunkCount, setChunkCount] = useState(0);
  const recorder = useRef(null);
  const chunks = useRef([]);
  const preview = useRef(null);
  const { t } = useTranslation();

  useEffect(() => {
    if (preview.current && stream) preview.current.srcObject = stream;
  }, [stream]);

  useEffect(
    () => () => {
      if (recorder.current && recorder.current.state !== "inactive") recorder.current.stop();
    },
    [],
  );

  const start = async () => {
    let s;
    try {
      s = await navigator.mediaDevices.getUserMedia({ audio: true, video: kind === "video" });
    } catch (e) {
      message.error(t("recorder.cannot", { reason: e.message }));
      return;
    }
    const mimeType = MediaRecorder.isTypeSupported(MIME[kind]) ? MIME[kind] : "";
    const rec = new MediaRecorder(s, mimeType ? { mimeType } : undefined);
    chunks.current = [];
    setChunkCount(0);
    rec.ondataavailable = (ev) => {
      if (ev.data && ev.data.size) {
        chunks.current.push(ev.data);
        setChunkCount(chunks.current.length);
      }
    };
    rec.onstop = () => {
      for (const t of s.getTracks()) t.stop();
      setStream(null);
      const blob = new Blob(chunks.current, { type: MIME[kind] });
      chunks.current = [];
      if (blob.size) onDone(blob);
      else message.error(t("recorder.nothing"));
    };
    rec.start(250);
    recorder.current = rec;
    setStream(s);
    setRecording(true);
  };

  const stop = () => {
    setRecording(false);
    const rec = recorder.current;
    recorder.current = null;
    if (rec && rec.state !== "inactive") rec.stop();
  };

  const video = kind === "video";
  const label = recording
    ? t(video ? "recorder.stopVideo" : "recorder.stopVoice")
    : t(video ? "recorder.recordVideo" : "recorder.recordVoice");
  return (
    <>
      <Tooltip title={label}>
        <Button
          icon={recording ? <StopOutlined /> : icon}
          danger={recording}
          onClick={recording ? stop : start}
          data-testid={testid}
          data-recording={recording ? "1" : "0"}
          data-chunks={chunkCount}
          aria-label={label}
        />
      </Tooltip>
      {recording && kind === "video" && (
        <video ref={preview} className="record-preview" autoPlay muted playsInline data-testid="record-preview" />
      )}
    </>
  );
}
