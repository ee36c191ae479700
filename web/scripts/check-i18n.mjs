// Fails the build when the client's languages disagree.
//
// src/locales/en.json is the reference. Each other language must have exactly
// its keys, none empty, each with the same {{placeholders}} and <tags>; and
// every key the source names (a string literal such as "chat.send" whose first
// part is a namespace of en.json) must be in en.json. tests/test_web_i18n.py
// makes the same checks in Python, so they hold without npm too.
//
// Usage: node scripts/check-i18n.mjs [webDir]   (exit 1 and a list on failure)
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export function flatten(tree, prefix = "", out = {}) {
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === "object") flatten(v, key, out);
    else out[key] = v;
  }
  return out;
}

// The {{placeholders}} and <tags> of a text, sorted: they must match across languages.
export function markers(text) {
  const found = [...String(text).matchAll(/\{\{\s*([\w.]+)\s*\}\}|<\/?(\w+)\s*\/?>/g)].map((m) =>
    m[1] ? `{{${m[1]}}}` : `<${m[2]}>`,
  );
  return found.sort().join(" ");
}

function sources(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...sources(full));
    else if (/\.(js|jsx|mjs)$/.test(name)) out.push(full);
  }
  return out;
}

// Every problem found, as lines; none when the languages agree.
export function check(webDir) {
  const localeDir = join(webDir, "src", "locales");
  const problems = [];
  const load = (file) => flatten(JSON.parse(readFileSync(join(localeDir, file), "utf8")));
  const en = load("en.json");
  const namespaces = new Set(Object.keys(en).map((k) => k.split(".")[0]));
  for (const file of readdirSync(localeDir).filter((f) => f.endsWith(".json")).sort()) {
    const lang = load(file);
    for (const [key, text] of Object.entries(en)) {
      if (!(key in lang)) problems.push(`${file}: missing key ${key}`);
      else if (typeof lang[key] !== "string" || lang[key].trim() === "")
        problems.push(`${file}: empty text for ${key}`);
      else if (markers(lang[key]) !== markers(text))
        problems.push(`${file}: ${key} has "${markers(lang[key])}", en.json "${markers(text)}"`);
    }
    for (const key of Object.keys(lang)) {
      if (!(key in en)) problems.push(`${file}: key ${key} is not in en.json`);
    }
  }
  const literal = /["'`]([a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9_]+)+)["'`]/g;
  for (const file of sources(join(webDir, "src"))) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(literal)) {
      const key = m[1];
      if (namespaces.has(key.split(".")[0]) && !(key in en)) {
        problems.push(`${relative(webDir, file)}: uses key ${key}, which en.json lacks`);
      }
    }
  }
  return problems;
}

const webDir = process.argv[2] || fileURLToPath(new URL("..", import.meta.url));
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (!existsSync(join(webDir, "src", "locales", "en.json"))) {
    console.error(`check-i18n: no src/locales/en.json under ${webDir}`);
    process.exit(1);
  }
  const problems = check(webDir);
  if (problems.length) {
    console.error(`check-i18n: ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
    process.exit(1);
  }
  console.log("check-i18n: every language has every key");
}
