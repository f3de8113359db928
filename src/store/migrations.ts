// Versioned schema for the SQLite store. Each entry runs once, in order, inside
// a transaction; PRAGMA user_version records how far a database has come.
// Never edit a migration that has shipped: add a new one.

export const SQLITE_MIGRATIONS: readonly string[] = [
  // 1: mounts, engine entries, leases, intents, tokens, meta.
  `
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE mounts (
    path         TEXT PRIMARY KEY,
    accessor     TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    default_ttl  INTEGER NOT NULL DEFAULT 0,
    max_ttl      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE engine_entries (
    mount_accessor TEXT NOT NULL,
    key            TEXT NOT NULL,
    value          BLOB NOT NULL,
    PRIMARY KEY (mount_accessor, key)
  ) WITHOUT ROWID;

  CREATE TABLE leases (
    id                TEXT PRIMARY KEY,
    mount_accessor    TEXT NOT NULL,
    secret_type       TEXT NOT NULL,
    internal          BLOB NOT NULL,
    issue_time        INTEGER NOT NULL,
    expire_time       INTEGER NOT NULL,
    max_expire_time   INTEGER NOT NULL,
    last_renewal_time INTEGER,
    renewable         INTEGER NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('active', 'revoking', 'revoked', 'irrevocable')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_time INTEGER,
    last_error        TEXT,
    token_accessor    TEXT,
    revoke_time       INTEGER,
    -- When the expiry scheduler must next look at this lease: the expiry of an
    -- active lease, the next retry of a revoking one, NULL otherwise.
    due_time          INTEGER
  );
  CREATE INDEX leases_by_due_time ON leases (due_time) WHERE due_time IS NOT NULL;

  CREATE TABLE intents (
    id             TEXT PRIMARY KEY,
    lease_id       TEXT NOT NULL,
    mount_accessor TEXT NOT NULL,
    secret_type    TEXT NOT NULL,
    data           BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    -- Set while a rollback owns the intent; a lease can no longer claim it.
    claimed_at     INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX intents_by_created_at ON intents (created_at);

  -- Every change of a lease's state, in order, for WatchLeases. Written in the
  -- same transaction as the change itself.
  CREATE TABLE lease_events (
    sequence    INTEGER PRIMARY KEY AUTOINCREMENT,
    type        TEXT NOT NULL,
    lease_id    TEXT NOT NULL,
    time        INTEGER NOT NULL,
    expire_time INTEGER,
    detail      TEXT
  );
  CREATE INDEX lease_events_by_time ON lease_events (time);

  -- A revoke-prefix in progress: resumed after a restart from its cursor.
  CREATE TABLE revocation_jobs (
    id         TEXT PRIMARY KEY,
    prefix     TEXT NOT NULL,
    force      INTEGER NOT NULL,
    cursor     TEXT,
    created_at INTEGER NOT NULL,
    done_at    INTEGER
  ) WITHOUT ROWID;

  -- ACL policies by name, as written (HCL or JSON).
  CREATE TABLE policies (
    name       TEXT PRIMARY KEY,
    text       TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;

  -- Rate limit quotas and audit devices: small configuration records.
  CREATE TABLE quotas (
    name   TEXT PRIMARY KEY,
    config TEXT NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE audit_devices (
    path   TEXT PRIMARY KEY,
    config BLOB NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE tokens (
    accessor        TEXT PRIMARY KEY,
    hash            BLOB NOT NULL UNIQUE,
    policies        TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    parent_accessor TEXT,
    created_at      INTEGER NOT NULL,
    expire_time     INTEGER,
    ttl             INTEGER NOT NULL,
    max_expire_time INTEGER,
    renewable       INTEGER NOT NULL,
    num_uses        INTEGER NOT NULL,
    uses_left       INTEGER NOT NULL,
    meta            TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // 2: the token tree and token expiry, and a token's leases in id order.
  `
  CREATE INDEX tokens_by_parent ON tokens (parent_accessor) WHERE parent_accessor IS NOT NULL;
  CREATE INDEX tokens_by_expire_time ON tokens (expire_time) WHERE expire_time IS NOT NULL;
  CREATE INDEX tokens_used_up ON tokens (accessor) WHERE num_uses > 0 AND uses_left = 0;
  CREATE INDEX leases_by_token_and_id ON leases (token_accessor, id) WHERE token_accessor IS NOT NULL;
  `,
  // 3: listing leases by state; due revocations while expiry is paused;
  // progress of revoke-prefix jobs.
  `
  -- Active leases (nearly all of them) stay out of it: an insert touches no
  -- more indexes than it must, and listing active leases scans by id anyway.
  CREATE INDEX leases_by_state ON leases (state, id) WHERE state != 'active';
  CREATE INDEX leases_revoking_by_due_time ON leases (due_time) WHERE state = 'revoking';
  ALTER TABLE revocation_jobs ADD COLUMN enqueue INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE revocation_jobs ADD COLUMN matched INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE revocation_jobs ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE revocation_jobs ADD COLUMN failed INTEGER NOT NULL DEFAULT 0;
  `,
  // 4: a lease's own TTL (seconds), what renewing with no increment renews by;
  // NULL on leases recorded before.
  `
  ALTER TABLE leases ADD COLUMN ttl INTEGER;
  `,
  // 5: the CIDR blocks a token may be used from (JSON array; empty: anywhere),
  // set by the role of the login that made it.
  `
  ALTER TABLE tokens ADD COLUMN bound_cidrs TEXT NOT NULL DEFAULT '[]';
  `,
];
