// The client's languages: i18next with one JSON file per language
// (locales/<tag>.json, English the reference), Ant Design's own texts switched
// with it, and <html lang> kept equal to the language shown.
//
// Which language: the one the user chose in the profile (stored on the server,
// so it follows the user to every device), else the browser's. Every text the
// client shows goes through t(); a server refusal is shown by its stable key
// (errors.<key>), its English text only when the key is unknown here.
// scripts/check-i18n.mjs (run by `npm run build`) fails the build when a
// language lacks a key of the English file or the source uses a key it lacks.
import i18n from "i18next";
import { initReactI18next } from "react-i18next";
import enUS from "antd/locale/en_US";
import zhCN from "antd/locale/zh_CN";
import esES from "antd/locale/es_ES";
import en from "./locales/en.json";
import zh from "./locales/zh.json";
import es from "./locales/es.json";

// Each language's own name, as a person who reads it looks for it.
export const LANGUAGES = [
  { code: "en", name: "English", antd: enUS },
  { code: "zh", name: "简体中文", antd: zhCN },
  { code: "es", name: "Español", antd: esES },
];
const CODES = LANGUAGES.map((l) => l.code);

// The first of the browser's languages that the client speaks ("zh-CN" -> "zh").
export function browserLanguage() {
  const wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  for (const tag of wanted) {
    const base = String(tag || "").toLowerCase().split("-")[0];
    if (CODES.includes(base)) return base;
  }
  return "en";
}

// A language picked on the login page is this browser's own choice: kept here
// (not on the server: nobody is logged in) and used for users who chose none.
const PICKED_KEY = "chatTrio.language";

function pickedLanguage() {
  try {
    const code = localStorage.getItem(PICKED_KEY);
    return CODES.includes(code) ? code : "";
  } catch {
    return ""; // storage disabled
  }
}

export function pickLanguage(code) {
  try {
    localStorage.setItem(PICKED_KEY, code);
  } catch {
    // storage disabled: the choice lasts as long as the page
  }
  i18n.changeLanguage(code);
}

// Without a stored choice: this browser's pick, else its language.
function defaultLanguage() {
  return pickedLanguage() || browserLanguage();
}

export function antdLocale(code) {
  return (LANGUAGES.find((l) => l.code === code) || LANGUAGES[0]).antd;
}

// Shows `code`, the user's stored choice ("" or an unknown tag: the default).
export function applyLanguage(code) {
  const next = CODES.includes(code) ? code : defaultLanguage();
  if (i18n.language !== next) i18n.changeLanguage(next);
}

i18n.use(initReactI18next).init({
  resources: { en: { translation: en }, zh: { translation: zh }, es: { translation: es } },
  lng: defaultLanguage(),
  fallbackLng: "en",
  supportedLngs: CODES,
  interpolation: { escapeValue: false }, // React escapes
  returnEmptyString: false,
  showSupportNotice: false,
});

const syncHtmlLang = (lng) => {
  document.documentElement.lang = lng === "zh" ? "zh-CN" : lng;
};
syncHtmlLang(i18n.language);
i18n.on("languageChanged", syncHtmlLang);

// A refusal from the server in the user's language: its key's text, or the
// server's own (English) text for a key this client does not know.
// The keys a refusal has when it says nothing more specific than its status
// (docs/protocol.md, "Error keys"): in English the server's own text says more.
const GENERIC_KEYS = new Set([
  "bad_request", "forbidden", "not_found", "method_not_allowed", "timeout", "conflict",
  "too_large", "unsupported_media_type", "rate_limited", "internal",
]);

export function errorText(key, fallback) {
  if (fallback && GENERIC_KEYS.has(key) && i18n.resolvedLanguage === "en") return fallback;
  if (key && i18n.exists(`errors.${key}`)) return i18n.t(`errors.${key}`);
  return fallback || i18n.t("errors.internal");
}

export default i18n;
