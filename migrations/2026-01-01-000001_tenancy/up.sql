-- Organisations and users. Every table of Tally carries an org id so the schema can later be
-- distributed by organisation (Citus); here the org id is the organisation's own key.

CREATE TABLE orgs (
    id         TEXT COLLATE "C" PRIMARY KEY CHECK (id ~ '^org_[A-Za-z0-9_-]{1,60}$'),
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The default organisation exists from the start and owns everything not placed elsewhere.
INSERT INTO orgs (id, name, created_at) VALUES ('org_default', 'Default organisation', now());

CREATE TABLE users (
    id         UUID PRIMARY KEY,
    org_id     TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    username   TEXT NOT NULL,
    email      TEXT,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    created_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username)
);

CREATE INDEX users_org_created_idx ON users (org_id, created_at, id);
