// Edit nickname, email, password and the client's language; upload an avatar.
// The language is stored on the server, so every device of the user shows it. A new password needs the
// current one: the server refuses a change without it (a stolen login alone must not
// be enough to take the account).
import { useEffect, useRef, useState } from "react";
import { Avatar, Button, Form, Input, Modal, Space, Switch, message } from "antd";
import { UploadOutlined, UserOutlined } from "@ant-design/icons";
import { useTranslation } from "react-i18next";
import { Api, fileUrl } from "../api";
import i18n, { applyLanguage } from "../i18n";
import LanguagePicker from "./LanguagePicker";
import { askNotificationPermission, notificationPermission } from "../notify";

export default function ProfileModal({ open, me, setMe, onClose, receipts = true, onReceipts }) {
  const [form] = Form.useForm();
  const fileInput = useRef(null);
  const firstField = useRef(null);
  const { t } = useTranslation();
  const [permission, setPermission] = useState(notificationPermission);

  useEffect(() => {
    if (open) {
      form.setFieldsValue({
        nickname: me.nickname,
        email: me.email,
        password: "",
        oldPassword: "",
        language: me.language || i18n.resolvedLanguage,
      });
    }
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
        language: values.language || "",
        ...(values.password ? { oldPassword: values.oldPassword || "" } : {}),
      });
      setMe({ ...me, nickname: values.nickname || "", email: values.email || "", language: values.language || "" });
      applyLanguage(values.language);
      message.success(i18n.t("profile.saved"));
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
      message.success(t("profile.avatarUpdated"));
    } catch {
      // shown by api()
    }
  };

  return (
    <Modal
      title={t("profile.title")}
      open={open}
      onOk={save}
      onCancel={onClose}
      okText={t("profile.save")}
      // A dialog takes the focus (its first field), and Escape closes it.
      // (once its opening animation ends: unless the user already moved into it, say
      // by opening the language list, whose focus this must not take away)
      afterOpenChange={(opened) => {
        const el = document.activeElement;
        const busy = el && el.closest(".ant-modal") && el.matches("input, textarea, [role='combobox']");
        if (opened && firstField.current && !busy) firstField.current.focus();
      }}
      cancelText={t("common.cancel")}
      okButtonProps={{ "data-testid": "profile-submit" }}
    >
      <Space style={{ marginBottom: 16 }}>
        <Avatar size={64} src={me.avatar ? fileUrl(me.avatar) : undefined} icon={<UserOutlined />} data-testid="profile-avatar" alt={t("profile.avatar")} />
        <Button icon={<UploadOutlined />} onClick={() => fileInput.current.click()}>
          {t("profile.uploadAvatar")}
        </Button>
        <input
          ref={fileInput}
          type="file"
          accept="image/*"
          style={{ display: "none" }}
          onChange={uploadAvatar}
          data-testid="avatar-input"
          tabIndex={-1}
          aria-hidden="true"
        />
      </Space>
      {onReceipts && (
        <Space style={{ marginBottom: 16 }}>
          <Switch
            id="profile-receipts"
            checked={receipts}
            onChange={(on) => onReceipts(on)}
            data-testid="receipts-switch"
            aria-describedby="profile-receipts-help"
          />
          <label htmlFor="profile-receipts">{t("receipts.setting")}</label>
          <span id="profile-receipts-help" className="sr-only">
            {t("receipts.settingHelp")}
          </span>
        </Space>
      )}
      <Space style={{ marginBottom: 16 }} wrap>
        <Button
          onClick={async () => setPermission(await askNotificationPermission())}
          disabled={permission !== "default"}
          data-testid="notify-permission"
          data-permission={permission}
        >
          {t("presence.desktopNotify")}
        </Button>
        <span data-testid="notify-state">
          {permission === "granted"
            ? t("presence.notifyOn")
            : permission === "denied"
              ? t("presence.notifyDenied")
              : permission === "unsupported"
                ? t("presence.notifyUnsupported")
                : ""}
        </span>
      </Space>
      <Form form={form} layout="vertical">
        <Form.Item label={t("fields.username")} htmlFor="profile-username">
          <Input id="profile-username" value={me.username} readOnly />
        </Form.Item>
        <Form.Item label={t("fields.nickname")} name="nickname">
          <Input data-testid="profile-nickname" ref={firstField} />
        </Form.Item>
        <Form.Item label={t("fields.email")} name="email" rules={[{ type: "email", message: t("fields.badEmail") }]}>
          <Input data-testid="profile-email" />
        </Form.Item>
        <Form.Item label={t("profile.language")} name="language">
          <LanguagePicker testid="profile-language" />
        </Form.Item>
        <Form.Item label={t("profile.newPassword")} name="password">
          <Input.Password data-testid="profile-password" autoComplete="new-password" />
        </Form.Item>
        <Form.Item
          label={t("profile.oldPassword")}
          name="oldPassword"
          dependencies={["password"]}
          rules={[
            ({ getFieldValue }) => ({
              validator: (_, value) =>
                !getFieldValue("password") || value
                  ? Promise.resolve()
                  : Promise.reject(new Error(t("profile.oldPasswordNeeded"))),
            }),
          ]}
        >
          <Input.Password data-testid="profile-old-password" autoComplete="current-password" />
        </Form.Item>
      </Form>
    </Modal>
  );
}
