import { useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { Button, Form, Input, Typography, message } from "antd";
import { Trans, useTranslation } from "react-i18next";
import { Api } from "../api";
import AuthLayout from "./AuthLayout";

export default function Register() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);

  const onFinish = async (values) => {
    setBusy(true);
    try {
      await Api.register(values);
    } catch {
      setBusy(false);
      return; // api() has shown the reason.
    }
    // Registered: log in with the same name and password, straight into the chat.
    try {
      const user = await Api.login({ username: values.username, password: values.password });
      message.success(t("register2.done", { name: values.nickname || values.username }));
      navigate(`/panel/${user.uuid}`);
    } catch {
      // The account exists; the login form can still take it.
      message.success(t("register.done"));
      navigate("/login");
    } finally {
      setBusy(false);
    }
  };

  return (
    <AuthLayout title={t("register.title")}>
      <Form layout="vertical" onFinish={onFinish}>
        <Form.Item label={t("fields.username")} name="username" rules={[{ required: true, message: t("fields.required") }]}>
          <Input data-testid="register-username" autoComplete="username" autoFocus />
        </Form.Item>
        <Form.Item label={t("fields.password")} name="password" rules={[{ required: true, message: t("fields.required") }]}>
          <Input.Password data-testid="register-password" autoComplete="new-password" />
        </Form.Item>
        <Form.Item label={t("fields.nickname")} name="nickname">
          <Input data-testid="register-nickname" />
        </Form.Item>
        <Form.Item label={t("fields.email")} name="email" rules={[{ type: "email", message: t("fields.badEmail") }]}>
          <Input data-testid="register-email" />
        </Form.Item>
        <Button type="primary" htmlType="submit" block loading={busy} data-testid="register-submit">
          {t("register.submit")}
        </Button>
      </Form>
      <Typography.Paragraph style={{ marginTop: 16, marginBottom: 0 }}>
        <Trans i18nKey="register.haveAccount" components={{ go: <Link to="/login" data-testid="goto-login" /> }} />
      </Typography.Paragraph>
    </AuthLayout>
  );
}
