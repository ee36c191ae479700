import { useEffect, useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { Button, Form, Input, Typography } from "antd";
import { Trans, useTranslation } from "react-i18next";
import { Api } from "../api";
import AuthLayout from "./AuthLayout";

export default function Login() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);

  // A session that is still valid (the login cookie) skips the form.
  useEffect(() => {
    let live = true;
    Api.me()
      .then((me) => live && me && navigate(`/panel/${me.uuid}`, { replace: true }))
      .catch(() => {});
    return () => {
      live = false;
    };
  }, [navigate]);

  const onFinish = async (values) => {
    setBusy(true);
    try {
      // The server sets the HttpOnly login cookie; the token in the answer is
      // for other clients and is not kept.
      const user = await Api.login(values);
      navigate(`/panel/${user.uuid}`);
    } catch {
      // api() has shown the reason.
    } finally {
      setBusy(false);
    }
  };

  return (
    <AuthLayout title={t("login.title")}>
      <Form layout="vertical" onFinish={onFinish}>
        <Form.Item label={t("fields.username")} name="username" rules={[{ required: true, message: t("fields.required") }]}>
          <Input data-testid="login-username" autoComplete="username" autoFocus />
        </Form.Item>
        <Form.Item label={t("fields.password")} name="password" rules={[{ required: true, message: t("fields.required") }]}>
          <Input.Password data-testid="login-password" autoComplete="current-password" />
        </Form.Item>
        <Button type="primary" htmlType="submit" block loading={busy} data-testid="login-submit">
          {t("login.submit")}
        </Button>
      </Form>
      <Typography.Paragraph style={{ marginTop: 16, marginBottom: 0 }}>
        <Trans i18nKey="login.noAccount" components={{ go: <Link to="/register" data-testid="goto-register" /> }} />
      </Typography.Paragraph>
    </AuthLayout>
  );
}
