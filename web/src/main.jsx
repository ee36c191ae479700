import { useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, Navigate, Route, Routes } from "react-router-dom";
import { ConfigProvider } from "antd";
import i18n, { antdLocale } from "./i18n";
import Login from "./pages/Login";
import Register from "./pages/Register";
import Panel from "./pages/Panel";
import "./styles.css";

// Colours chosen for WCAG AA contrast (4.5:1 for text): Ant Design's default
// blue (#1677ff) and its grey secondary text fall short on white.
const THEME = {
  token: {
    colorPrimary: "#0958d9",
    // Hovered and pressed are darker, not lighter: white text stays readable.
    colorPrimaryHover: "#003eb3",
    colorPrimaryActive: "#002c8c",
    colorLink: "#0958d9",
    colorLinkHover: "#003eb3",
    colorTextSecondary: "rgba(0, 0, 0, 0.65)",
    colorTextDescription: "rgba(0, 0, 0, 0.65)",
    colorTextTertiary: "rgba(0, 0, 0, 0.62)",
    colorTextPlaceholder: "rgba(0, 0, 0, 0.6)",
    colorTextDisabled: "rgba(0, 0, 0, 0.6)",
    colorError: "#cf1322",
    colorSuccess: "#237804",
    colorWarning: "#ad4e00",
  },
};

function App() {
  const [lng, setLng] = useState(i18n.language);
  useEffect(() => {
    const on = (l) => setLng(l);
    i18n.on("languageChanged", on);
    return () => i18n.off("languageChanged", on);
  }, []);
  return (
    // autoInsertSpace off: Ant Design would write 登录 as "登 录" in buttons.
    <ConfigProvider theme={THEME} locale={antdLocale(lng)} button={{ autoInsertSpace: false }}>
      <BrowserRouter>
        <Routes>
          <Route path="/" element={<Navigate to="/login" replace />} />
          <Route path="/login" element={<Login />} />
          <Route path="/register" element={<Register />} />
          <Route path="/panel/*" element={<Panel />} />
          <Route path="*" element={<Navigate to="/login" replace />} />
        </Routes>
      </BrowserRouter>
    </ConfigProvider>
  );
}

createRoot(document.getElementById("root")).render(<App />);
