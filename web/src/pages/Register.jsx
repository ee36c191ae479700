import { useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { Button, Card, Form, Input, Typography, message } from "antd";
import { Api } from "../api";

export default function Register() {
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);

  const onFinish = async (values) => {
    setBusy(true);
    try {
      await Api.register(values);
      message.success("Registered: log in now");
      navigate("/login");
    } catch {
      // api() has shown the reason.
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="auth-page">
      <Card title="chat-trio: register" className="auth-card">
        <Form layout="vertical" onFinish={onFinish}>
          <Form.Item label="Username" name="username" rules={[{ required: true }]}>
            <Input data-testid="register-username" autoComplete="username" />
          </Form.Item>
          <Form.Item label="Password" name="password" rules={[{ required: true }]}>
            <Input.Password data-testid="register-password" autoComplete="new-password" />
          </Form.Item>
          <Form.Item label="Nickname" name="nickname">
            <Input data-testid="register-nickname" />
          </Form.Item>
          <Form.Item label="Email" name="email" rules={[{ type: "email" }]}>
            <Input data-testid="register-email" />
          </Form.Item>
          <Button type="primary" htmlType="submit" block loading={busy} data-testid="register-submit">
            Register
          </Button>
        </Form>
        <Typography.Paragraph style={{ marginTop: 16, marginBottom: 0 }}>
          Have an account? <Link to="/login" data-testid="goto-login">Log in</Link>
        </Typography.Paragraph>
      </Card>
    </div>
  );
}
