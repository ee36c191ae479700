// When a message becomes a desktop notification: only from others, outside a
// catch-up, in a conversation that is not muted, while the tab is hidden, and
// with the user's permission.
import { describe, expect, it } from "vitest";
import { shouldNotify } from "../src/notify";

const base = { mine: false, syncing: false, muted: false, hidden: true, permission: "granted" };

describe("shouldNotify", () => {
  it("notifies a message from someone else while the tab is hidden", () => {
    expect(shouldNotify(base)).toBe(true);
  });
  it.each([
    ["own", { mine: true }],
    ["catch-up", { syncing: true }],
    ["muted", { muted: true }],
    ["tab visible", { hidden: false }],
    ["no permission", { permission: "default" }],
    ["denied", { permission: "denied" }],
  ])("stays quiet: %s", (_, patch) => {
    expect(shouldNotify({ ...base, ...patch })).toBe(false);
  });
});
