// A voice or video message's player that knows its length.
//
// A WebM made by MediaRecorder has no duration in its header: the browser
// reports Infinity and the player shows 0:00. Seeking far past the end once
// the metadata is in makes the browser read to the end and learn the real
// duration; then the player goes back to the start. The length found is kept
// on the element (data-duration, whole seconds) for the tests and styles.
import { useRef, useState } from "react";

export default function MediaPlayer({ kind, src, testid, label, className }) {
  const ref = useRef(null);
  const probing = useRef(false);
  const [duration, setDuration] = useState(null);

  const learn = () => {
    const el = ref.current;
    if (!el) return;
    const d = el.duration;
    if (Number.isFinite(d) && d > 0) {
      if (probing.current) {
        probing.current = false;
        el.currentTime = 0;
      }
      setDuration(Math.round(d));
    } else if (d === Infinity && !probing.current) {
      probing.current = true;
      el.currentTime = 1e101;
    }
  };

  const Tag = kind === "video" ? "video" : "audio";
  return (
    <Tag
      ref={ref}
      className={className}
      src={src}
      controls
      preload="metadata"
      data-testid={testid}
      data-duration={duration ?? ""}
      aria-label={label}
      onLoadedMetadata={learn}
      onDurationChange={learn}
      onTimeUpdate={learn}
    />
  );
}
