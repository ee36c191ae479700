import { useEffect, useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { Button, Card, Form, Input, Typography } from "antd";
import { Api } from "../api";

export default function Login() {
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
    <div className="auth-page">
      <Card title="chat-trio: log in" className="auth-card">
        <Form layout="vertical" onFinish={onFinish}>
          <Form.Item label="Username" name="username" rules={[{ required: true }]}>
            <Input data-testid="login-username" autoComplete="username" />
          </Form.Item>
          <Form.Item label="Password" name="password" rules={[{ required: true }]}>
            <Input.Password data-testid="login-password" autoComplete="current-password" />
          </Form.Item>
          <Button type="primary" htmlType="submit" block loading={busy} data-testid="login-submit">
            Log in
          </Button>
        </Form>
        <Typography.Paragraph style={{ marginTop: 16, marginBottom: 0 }}>
          No account? <Link to="/register" data-testid="goto-register">Register</Link>
        </Typography.Paragraph>
      </Card>
    </div>
  );
}
