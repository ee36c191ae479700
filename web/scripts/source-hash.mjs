// Writes web/dist/.source-hash and web/dist/GENERATED.txt after `vite build`.
//
// The hash covers every input of the build, so a check (tests/browser/
// test_bundle_fresh.py) can tell when the committed web/dist no longer matches
// its sources. Algorithm, mirrored in Python:
//   for each input path (relative to the repository root, "/" separators),
//   in sorted order: feed "<path>\n<sha256 hex of the file's bytes>\n"
//   into one sha256; the result's hex digest is the source hash.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const webDir = fileURLToPath(new URL("..", import.meta.url));
const repoDir = join(webDir, "..");

function walk(dir) {
  const out = [];
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...walk(full));
    else out.push(full);
  }
  return out;
}

export function sourceFiles() {
  const files = [
    ...walk(join(webDir, "src")),
    ...walk(join(webDir, "public")),
    ...walk(join(webDir, "scripts")),
    join(webDir, "index.html"),
    join(webDir, "package.json"),
    join(webDir, "package-lock.json"),
    join(repoDir, "proto", "message.proto"),
  ];
  for (const name of readdirSync(webDir)) {
    if (name.startsWith("vite.config.")) files.push(join(webDir, name));
  }
  return files
    .map((f) => relative(repoDir, f).split(sep).join("/"))
    .sort();
}

export function sourceHash() {
  const h = createHash("sha256");
  for (const rel of sourceFiles()) {
    const digest = createHash("sha256")
      .update(readFileSync(join(repoDir, rel)))
      .digest("hex");
    h.update(`${rel}\n${digest}\n`);
  }
  return h.digest("hex");
}

const hash = sourceHash();
writeFileSync(join(webDir, "dist", ".source-hash"), hash + "\n");
writeFileSync(
  join(webDir, "dist", "GENERATED.txt"),
  "Everything in web/dist is generated from web/src (and proto/message.proto)\n" +
    "by `npm --prefix web ci && npm --prefix web run build`. Do not edit it by hand.\n" +
    "web/dist/.source-hash records the sources it was built from;\n" +
    "tests/browser/test_bundle_fresh.py fails when they have changed since.\n",
);
console.log(`web/dist built from sources ${hash}`);
