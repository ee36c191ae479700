// Call lines: placed among the messages by time, capped, worded by length.
import { describe, expect, it } from "vitest";
import { addCall, callLine, withCallLines } from "../src/callLog";
import i18next from "i18next";
import en from "../src/locales/en.json";

describe("call lines", () => {
  it("go before the first message made after the call", () => {
    const msgs = [
      { key: "a", id: 1, createAt: 100 },
      { key: "b", id: 2, createAt: 300 },
    ];
    const out = withCallLines(msgs, [{ at: 200, kind: "audio", seconds: 180 }]);
    expect(out.map((m) => m.key)).toEqual(["a", "call-200", "b"]);
    expect(withCallLines(msgs, [{ at: 400, kind: "audio", seconds: 5 }]).map((m) => m.key)).toEqual([
      "a",
      "b",
      "call-400",
    ]);
    expect(withCallLines(msgs, [])).toBe(msgs);
  });

  it("keep the newest fifty per conversation", () => {
    let log = {};
    for (let i = 0; i < 60; i++) log = addCall(log, "p", { at: i, kind: "audio", seconds: 1 });
    expect(log.p).toHaveLength(50);
    expect(log.p[0].at).toBe(10);
  });

  it("say minutes from a minute on, seconds below", async () => {
    const i18n = i18next.createInstance();
    await i18n.init({ lng: "en", resources: { en: { translation: en } }, interpolation: { escapeValue: false } });
    expect(callLine({ kind: "audio", seconds: 170 }, i18n.t)).toBe("Audio call, 3 min");
    expect(callLine({ kind: "video", seconds: 45 }, i18n.t)).toBe("Video call, 45 s");
  });
});
