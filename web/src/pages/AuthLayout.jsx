// The frame of the login and register pages: a main landmark with the page's
// one heading, and a language choice for this browser.
import { Card } from "antd";
import { useTranslation } from "react-i18next";
import i18n, { pickLanguage } from "../i18n";
import LanguagePicker from "../components/LanguagePicker";

export default function AuthLayout({ title, children }) {
  useTranslation(); // re-render on a language change
  return (
    <main className="auth-page">
      <Card
        className="auth-card"
        title={<h1 className="auth-title">{title}</h1>}
        extra={
          <LanguagePicker
            value={i18n.resolvedLanguage}
            onChange={pickLanguage}
            size="small"
            testid="auth-language"
          />
        }
      >
        {children}
      </Card>
    </main>
  );
}
