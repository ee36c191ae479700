// A choice of the client's language. On the login and register pages it only
// changes what this browser shows; the profile stores the choice (ProfileModal).
import { Select } from "antd";
import { useTranslation } from "react-i18next";
import { LANGUAGES } from "../i18n";

export default function LanguagePicker({ value, onChange, testid = "language-select", ...rest }) {
  const { t } = useTranslation();
  return (
    <Select
      value={value}
      onChange={onChange}
      aria-label={t("profile.language")}
      data-testid={testid}
      options={LANGUAGES.map((l) => ({ value: l.code, label: <span lang={l.code}>{l.name}</span> }))}
      popupMatchSelectWidth={false}
      {...rest}
    />
  );
}
