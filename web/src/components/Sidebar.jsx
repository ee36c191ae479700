// Left column: the user, connection state, search / add friend / join and
// create group, and the conversation list with unread counts.
import { useRef, useState } from "react";
import {
  Avatar,
  Badge,
  Button,
  Card,
  Dropdown,
  Form,
  Input,
  List,
  Modal,
  Space,
  Tag,
  Typography,
  message,
} from "antd";
import {
  LogoutOutlined,
  PlusOutlined,
  SettingOutlined,
  StopOutlined,
  TeamOutlined,
  UserOutlined,
} from "@ant-design/icons";
import { useTranslation } from "react-i18next";
import { Api, fileUrl } from "../api";
import ProfileModal from "./ProfileModal";
import PresenceDot from "./Presence";
import { useNow } from "../time";

const CONN_BADGE = { connecting: "processing", open: "success", reconnecting: "warning", closed: "default" };

export default function Sidebar({
  me,
  setMe,
  conversations,
  friendNames,
  activeKey,
  unread,
  lastText,
  connState,
  onOpen,
  onChanged,
  onLogout,
  presence = {},
  receipts,
  onReceipts,
}) {
  const now = useNow();
  const [query, setQuery] = useState("");
  const [found, setFound] = useState(null);
  const [searching, setSearching] = useState(false);
  const [groupOpen, setGroupOpen] = useState(false);
  const [profileOpen, setProfileOpen] = useState(false);
  const [groupForm] = Form.useForm();
  const groupName = useRef(null);
  const { t } = useTranslation();
  const connLabel = {
    connecting: t("conn.connecting"),
    open: t("conn.online"),
    reconnecting: t("conn.reconnecting"),
    closed: t("conn.offline"),
  };

  const search = async (name) => {
    name = name.trim();
    if (!name) return;
    setSearching(true);
    try {
      const r = await Api.findByName(name);
      setFound(r);
      if (!r.user?.username && !r.group?.uuid) message.info(t("search.nothing", { name }));
    } catch {
      setFound(null);
    } finally {
      setSearching(false);
    }
  };

  const addFriend = async (username) => {
    try {
      const answer = await Api.askFriend(username);
      if (answer?.status === "friends") message.success(t("search.friendAdded", { name: username }));
      else message.info(t("search.requestSent", { name: username }));
      setFound(null);
      setQuery("");
      onChanged();
    } catch {
      // shown by api()
    }
  };

  const joinGroup = async (group) => {
    try {
      await Api.joinGroup(me.uuid, group.uuid);
      message.success(t("search.joined", { name: group.name }));
      setFound(null);
      setQuery("");
      onChanged();
    } catch {
      // shown by api()
    }
  };

  const createGroup = async () => {
    const values = await groupForm.validateFields();
    try {
      await Api.createGroup(me.uuid, values.name, values.notice || "");
      message.success(t("group.created", { name: values.name }));
      groupForm.resetFields();
      setGroupOpen(false);
      onChanged();
    } catch {
      // shown by api()
    }
  };

  const badge = CONN_BADGE[connState] || CONN_BADGE.closed;
  const label = connLabel[connState] || connLabel.closed;
  const isFriend = (username) => friendNames.has(username);
  const isMember = (uuid) => conversations.some((c) => c.kind === "group" && c.key === uuid);

  return (
    <nav className="sidebar" data-testid="sidebar" aria-label={t("a11y.conversations")}>
      <header className="me-bar">
        <Avatar src={me.avatar ? fileUrl(me.avatar) : undefined} icon={<UserOutlined />} data-testid="me-avatar" />
        <div className="me-name">
          <Typography.Text strong data-testid="me-name">
            {me.nickname || me.username}
          </Typography.Text>
          <Badge status={badge} text={label} data-testid="conn-status" data-state={connState} />
        </div>
        <Button
          icon={<UserOutlined />}
          onClick={() => setProfileOpen(true)}
          data-testid="profile-button"
          aria-label={t("menu.profile")}
          title={t("menu.profile")}
        />
        <Dropdown
          trigger={["click"]}
          menu={{
            items: [
              { key: "profile", icon: <SettingOutlined />, label: <span data-testid="profile-open">{t("menu.profile")}</span> },
              { key: "group", icon: <PlusOutlined />, label: <span data-testid="create-group-open">{t("menu.newGroup")}</span> },
              { key: "logout", icon: <LogoutOutlined />, label: <span data-testid="logout">{t("menu.logout")}</span> },
            ],
            onClick: ({ key }) => {
              if (key === "profile") setProfileOpen(true);
              if (key === "group") setGroupOpen(true);
              if (key === "logout") onLogout();
            },
          }}
        >
          <Button icon={<SettingOutlined />} data-testid="menu-open" aria-label={t("menu.open")} title={t("menu.open")} />
        </Dropdown>
      </header>
      <div className="search-bar">
        <Input.Search
          placeholder={t("search.placeholder")}
          aria-label={t("search.placeholder")}
          enterButton={t("search.find")}
          loading={searching}
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          onSearch={search}
          data-testid="search-input"
        />
        {found && (found.user?.username || found.group?.uuid) && (
          <Card size="small" className="search-result" data-testid="search-result">
            {found.user?.username && (
              <Space className="result-row">
                <Avatar size="small" src={found.user.avatar ? fileUrl(found.user.avatar) : undefined} icon={<UserOutlined />} />
                <span data-testid="search-result-user">{found.user.nickname || found.user.username}</span>
                {found.user.username === me.username ? (
                  <Tag>{t("search.you")}</Tag>
                ) : isFriend(found.user.username) ? (
                  <Tag>{t("search.friend")}</Tag>
                ) : (
                  <Button size="small" type="primary" onClick={() => addFriend(found.user.username)} data-testid="add-friend">
                    {t("search.addFriend")}
                  </Button>
                )}
              </Space>
            )}
            {found.group?.uuid && (
              <Space className="result-row">
                <Avatar size="small" icon={<TeamOutlined />} />
                <span data-testid="search-result-group">{found.group.name}</span>
                {isMember(found.group.uuid) ? (
                  <Tag>{t("search.member")}</Tag>
                ) : (
                  <Button size="small" type="primary" onClick={() => joinGroup(found.group)} data-testid="join-group">
                    {t("search.joinGroup")}
                  </Button>
                )}
              </Space>
            )}
          </Card>
        )}
      </div>
      <List
        className="conv-list"
        dataSource={conversations}
        locale={{ emptyText: t("list.empty") }}
        renderItem={(c) => (
          <List.Item
            className={`conv-item ${c.key === activeKey ? "active" : ""}`}
            aria-current={c.key === activeKey ? "true" : undefined}
            onClick={() => onOpen(c.key)}
            data-testid="conv-item"
            data-name={c.name}
            data-kind={c.kind}
          >
            <List.Item.Meta
              avatar={
                <Avatar
                  src={c.avatar ? fileUrl(c.avatar) : undefined}
                  icon={c.kind === "group" ? <TeamOutlined /> : <UserOutlined />}
                />
              }
              title={
                <span>
                  {/* The list item opens on a click anywhere; this button is its
                      keyboard and screen-reader way in. */}
                  <button type="button" className="conv-open" data-testid="conv-open">
                    {c.title}
                    {c.kind === "user" && <PresenceDot p={presence[c.key]} now={now} />}
                    {c.kind === "group" && <Tag className="group-tag">{t("list.group")}</Tag>}
                    {c.muted && <StopOutlined className="muted-icon" data-testid="conv-muted" aria-label={t("mute.muted")} />}
                    {unread[c.key] > 0 && (
                      <span className="unread-count" data-testid="unread" data-count={unread[c.key]}>
                        <Badge count={unread[c.key]} aria-hidden="true" />
                        <span className="sr-only">{t("list.unread", { count: unread[c.key] })}</span>
                      </span>
                    )}
                  </button>
                </span>
              }
              description={<span className="conv-last">{lastText[c.key] || (c.kind === "group" ? c.notice : "") || " "}</span>}
            />
          </List.Item>
        )}
      />
      <Modal
        title={t("group.new")}
        open={groupOpen}
        onOk={createGroup}
        onCancel={() => setGroupOpen(false)}
        okText={t("group.create")}
        afterOpenChange={(opened) => opened && groupName.current && groupName.current.focus()}
        cancelText={t("common.cancel")}
        okButtonProps={{ "data-testid": "create-group-submit" }}
      >
        <Form form={groupForm} layout="vertical">
          <Form.Item label={t("group.name")} name="name" rules={[{ required: true, message: t("fields.required") }]}>
            <Input data-testid="group-name" ref={groupName} />
          </Form.Item>
          <Form.Item label={t("group.notice")} name="notice">
            <Input data-testid="group-notice" />
          </Form.Item>
        </Form>
      </Modal>
      <ProfileModal
        open={profileOpen}
        me={me}
        setMe={setMe}
        onClose={() => setProfileOpen(false)}
        receipts={receipts}
        onReceipts={onReceipts}
      />
    </nav>
  );
}
