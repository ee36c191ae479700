import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The chat-trio server the dev server forwards API and WebSocket calls to.
const target = process.env.CHAT_TRIO_URL || "http://127.0.0.1:8888";
const apiPaths = [
  "/user",
  "/friend",
  "/message",
  "/file",
  "/upload",
  "/group",
  "/client-config",
];

const proxy = Object.fromEntries(
  apiPaths.map((p) => [p, { target, changeOrigin: false }]),
);
proxy["/socket.io"] = { target, ws: true, changeOrigin: false };

export default defineConfig({
  base: "/",
  plugins: [react()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
  },
  server: {
    proxy,
    // The wire schema lives in ../proto and is imported as text.
    fs: { allow: [".."] },
  },
});
