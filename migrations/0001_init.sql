-- 0001_init: the initial schema: accounts and characters, sign sessions,
-- the servers table (one row per running channel, owned by one replica),
-- mail, guilds with members and pending invitations/applications, and the
-- fencing state of global semaphores.
-- Channel IDs are uint16 on the wire, so they are stored as integer with a
-- range check (smallint stops at 32767).

CREATE TABLE accounts (
    id            bigserial PRIMARY KEY,
    username      text NOT NULL CHECK (username <> ''),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_username_ci ON accounts (lower(username));

CREATE TABLE characters (
    id               serial PRIMARY KEY,
    account_id       bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name             text NOT NULL CHECK (name <> ''),
    save_data        bytea,
    save_hash        bytea,
    playtime_seconds bigint NOT NULL DEFAULT 0,
    last_login       timestamptz,
    last_stage       text NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX characters_name_ci ON characters (lower(name));
CREATE INDEX characters_account ON characters (account_id);

CREATE TABLE sign_sessions (
    token_hash bytea PRIMARY KEY, -- SHA-256 of the token; the token itself is never stored
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    char_id    integer NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    server_id  integer CHECK (server_id BETWEEN 0 AND 65535),
    replica_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX sign_sessions_replica_expiry ON sign_sessions (replica_id, expires_at);

CREATE TABLE servers (
    channel_id  integer PRIMARY KEY CHECK (channel_id BETWEEN 0 AND 65535),
    replica_id  text NOT NULL,
    name        text NOT NULL DEFAULT '',
    addr        text NOT NULL DEFAULT '',
    population  integer NOT NULL DEFAULT 0,
    max_players integer NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX servers_replica ON servers (replica_id);

CREATE TABLE mail (
    id        bigserial PRIMARY KEY,
    from_id   integer NOT NULL, -- 0 for system mail; not a reference, mail outlives its sender
    from_name text NOT NULL DEFAULT '',
    to_id     integer NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    subject   text NOT NULL DEFAULT '',
    body      text NOT NULL DEFAULT '',
    sent_at   timestamptz NOT NULL DEFAULT now(),
    read      boolean NOT NULL DEFAULT false,
    guild     boolean NOT NULL DEFAULT false,
    deleted   boolean NOT NULL DEFAULT false
);
CREATE INDEX mail_inbox ON mail (to_id, sent_at DESC, id DESC) WHERE NOT deleted;

CREATE TABLE guilds (
    id         serial PRIMARY KEY,
    name       text NOT NULL CHECK (name <> ''),
    leader_id  integer NOT NULL UNIQUE REFERENCES characters (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX guilds_name_ci ON guilds (lower(name));

CREATE TABLE guild_members (
    guild_id  integer NOT NULL REFERENCES guilds (id) ON DELETE CASCADE,
    char_id   integer NOT NULL UNIQUE REFERENCES characters (id) ON DELETE CASCADE,
    joined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (guild_id, char_id)
);

CREATE TABLE guild_requests (
    guild_id   integer NOT NULL REFERENCES guilds (id) ON DELETE CASCADE,
    char_id    integer NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('invite', 'apply')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (guild_id, char_id, kind)
);
CREATE INDEX guild_requests_char ON guild_requests (char_id);

CREATE TABLE semaphore_fences (
    name       text PRIMARY KEY,
    last_token bigint NOT NULL,
    data       bytea,
    updated_at timestamptz NOT NULL DEFAULT now()
);
