// Edit nickname, email and password; upload an avatar. A new password needs the
// current one: the server refuses a change without it (a stolen login alone must not
// be enough to take the account).
import { useEffect, useRef } from "react";
import { Avatar, Button, Form, Input, Modal, Space, message } from "antd";
import { UploadOutlined, UserOutlined } from "@ant-design/icons";
import { Api, fileUrl } from "../api";

export default function ProfileModal({ open, me, setMe, onClose }) {
  const [form] = Form.useForm();
  const fileInput = useRef(null);

  useEffect(() => {
    if (open) form.setFieldsValue({ nickname: me.nickname, email: me.email, password: "", oldPassword: "" });
  }, [open, me, form]);

  const save = async () => {
    let values;
    try {
      values = await form.validateFields();
    } catch {
      return; // the form shows what is missing
    }
    try {
      await Api.updateUser({
        username: me.username,
        nickname: values.nickname || "",
        email: values.email || "",
        password: values.password || "",
        ...(values.password ? { oldPassword: values.oldPassword || "" } : {}),
      });
      setMe({ ...me, nickname: values.nickname || "", email: values.email || "" });
      message.success("Profile saved");
      onClose();
    } catch {
      // shown by api()
    }
  };

  const uploadAvatar = async (e) => {
    const file = e.target.files && e.target.files[0];
    e.target.value = "";
    if (!file) return;
    try {
      const name = await Api.uploadAvatar(me.uuid, file);
      setMe({ ...me, avatar: name });
      message.success("Avatar updated");
    } catch {
      // shown by api()
    }
  };

  return (
    <Modal
      title="Profile"
      open={open}
      onOk={save}
      onCancel={onClose}
      okText="Save"
      okButtonProps={{ "data-testid": "profile-submit" }}
    >
      <Space style={{ marginBottom: 16 }}>
        <Avatar size={64} src={me.avatar ? fileUrl(me.avatar) : undefined} icon={<UserOutlined />} data-testid="profile-avatar" />
        <Button icon={<UploadOutlined />} onClick={() => fileInput.current.click()}>
          Upload avatar
        </Button>
        <input
          ref={fileInput}
          type="file"
          accept="image/*"
          style={{ display: "none" }}
          onChange={uploadAvatar}
          data-testid="avatar-input"
        />
      </Space>
      <Form form={form} layout="vertical">
        <Form.Item label="Username">
          <Input value={me.username} disabled />
        </Form.Item>
        <Form.Item label="Nickname" name="nickname">
          <Input data-testid="profile-nickname" />
        </Form.Item>
        <Form.Item label="Email" name="email" rules={[{ type: "email" }]}>
          <Input data-testid="profile-email" />
        </Form.Item>
        <Form.Item label="New password (empty: unchanged)" name="password">
          <Input.Password data-testid="profile-password" autoComplete="new-password" />
        </Form.Item>
        <Form.Item
          label="Current password (needed for a new password)"
          name="oldPassword"
          dependencies={["password"]}
          rules={[
            ({ getFieldValue }) => ({
              validator: (_, value) =>
                !getFieldValue("password") || value
                  ? Promise.resolve()
                  : Promise.reject(new Error("Enter your current password to set a new one")),
            }),
          ]}
        >
          <Input.Password data-testid="profile-old-password" autoComplete="current-password" />
        </Form.Item>
      </Form>
    </Modal>
  );
}
