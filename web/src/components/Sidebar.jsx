// Left column: the user, connection state, search / add friend / join and
// create group, and the conversation list with unread counts.
import { useState } from "react";
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
  TeamOutlined,
  UserOutlined,
} from "@ant-design/icons";
import { Api, fileUrl } from "../api";
import ProfileModal from "./ProfileModal";

const CONN_LABEL = {
  connecting: ["processing", "connecting"],
  open: ["success", "online"],
  reconnecting: ["warning", "reconnecting"],
  closed: ["default", "offline"],
};

export default function Sidebar({
  me,
  setMe,
  conversations,
  activeKey,
  unread,
  lastText,
  connState,
  onOpen,
  onChanged,
  onLogout,
}) {
  const [query, setQuery] = useState("");
  const [found, setFound] = useState(null);
  const [searching, setSearching] = useState(false);
  const [groupOpen, setGroupOpen] = useState(false);
  const [profileOpen, setProfileOpen] = useState(false);
  const [groupForm] = Form.useForm();

  const search = async (name) => {
    name = name.trim();
    if (!name) return;
    setSearching(true);
    try {
      const r = await Api.findByName(name);
      setFound(r);
      if (!r.user?.username && !r.group?.uuid) message.info(`Nobody and no group is called "${name}"`);
    } catch {
      setFound(null);
    } finally {
      setSearching(false);
    }
  };

  const addFriend = async (username) => {
    try {
      await Api.addFriend(me.uuid, username);
      message.success(`${username} is now your friend`);
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
      message.success(`Joined ${group.name}`);
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
      message.success(`Group ${values.name} created`);
      groupForm.resetFields();
      setGroupOpen(false);
      onChanged();
    } catch {
      // shown by api()
    }
  };

  const [badge, label] = CONN_LABEL[connState] || CONN_LABEL.closed;
  const isFriend = (username) => conversations.some((c) => c.kind === "user" && c.name === username);
  const isMember = (uuid) => conversations.some((c) => c.kind === "group" && c.key === uuid);

  return (
    <div className="sidebar" data-testid="sidebar">
      <div className="me-bar">
        <Avatar src={me.avatar ? fileUrl(me.avatar) : undefined} icon={<UserOutlined />} data-testid="me-avatar" />
        <div className="me-name">
          <Typography.Text strong data-testid="me-name">
            {me.nickname || me.username}
          </Typography.Text>
          <Badge status={badge} text={label} data-testid="conn-status" data-state={connState} />
        </div>
        <Dropdown
          trigger={["click"]}
          menu={{
            items: [
              { key: "profile", icon: <SettingOutlined />, label: <span data-testid="profile-open">Profile</span> },
              { key: "group", icon: <PlusOutlined />, label: <span data-testid="create-group-open">New group</span> },
              { key: "logout", icon: <LogoutOutlined />, label: <span data-testid="logout">Log out</span> },
            ],
            onClick: ({ key }) => {
              if (key === "profile") setProfileOpen(true);
              if (key === "group") setGroupOpen(true);
              if (key === "logout") onLogout();
            },
          }}
        >
          <Button icon={<SettingOutlined />} data-testid="menu-open" aria-label="menu" />
        </Dropdown>
      </div>
      <div className="search-bar">
        <Input.Search
          placeholder="Find a user or group by exact name"
          enterButton="Find"
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
                  <Tag>you</Tag>
                ) : isFriend(found.user.username) ? (
                  <Tag color="green">friend</Tag>
                ) : (
                  <Button size="small" type="primary" onClick={() => addFriend(found.user.username)} data-testid="add-friend">
                    Add friend
                  </Button>
                )}
              </Space>
            )}
            {found.group?.uuid && (
              <Space className="result-row">
                <Avatar size="small" icon={<TeamOutlined />} />
                <span data-testid="search-result-group">{found.group.name}</span>
                {isMember(found.group.uuid) ? (
                  <Tag color="green">member</Tag>
                ) : (
                  <Button size="small" type="primary" onClick={() => joinGroup(found.group)} data-testid="join-group">
                    Join group
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
        locale={{ emptyText: "No friends or groups yet: find someone above" }}
        renderItem={(c) => (
          <List.Item
            className={`conv-item ${c.key === activeKey ? "active" : ""}`}
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
                  {c.title}
                  {c.kind === "group" && <Tag className="group-tag">group</Tag>}
                  {unread[c.key] > 0 && (
                    <span className="unread-count" data-testid="unread" data-count={unread[c.key]}>
                      <Badge count={unread[c.key]} />
                    </span>
                  )}
                </span>
              }
              description={<span className="conv-last">{lastText[c.key] || (c.kind === "group" ? c.notice : "") || " "}</span>}
            />
          </List.Item>
        )}
      />
      <Modal
        title="New group"
        open={groupOpen}
        onOk={createGroup}
        onCancel={() => setGroupOpen(false)}
        okText="Create"
        okButtonProps={{ "data-testid": "create-group-submit" }}
      >
        <Form form={groupForm} layout="vertical">
          <Form.Item label="Name" name="name" rules={[{ required: true }]}>
            <Input data-testid="group-name" />
          </Form.Item>
          <Form.Item label="Notice" name="notice">
            <Input data-testid="group-notice" />
          </Form.Item>
        </Form>
      </Modal>
      <ProfileModal open={profileOpen} me={me} setMe={setMe} onClose={() => setProfileOpen(false)} />
    </div>
  );
}
