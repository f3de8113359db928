// Versioned schema for the PostgreSQL store. Each entry runs once, in order,
// in its own transaction, under a session advisory lock (so replicas starting
// together migrate exactly once); schema_migrations records how far a
// database has come. Never edit a migration that has shipped: add a new one.
//
// Conventions: times are BIGINT milliseconds since the epoch (read back as
// numbers); sealed values are BYTEA; text keys that are ordered or compared by
// range (ids, paths, names) use COLLATE "C", so ordering is by code point as
// in SQLite and prefix ranges (prefix <= id < prefix || U+10FFFF) hold
// whatever the database's default collation.
import { EVENT_LOCK } from "./pg-db.js";

export const PG_MIGRATIONS: readonly string[] = [
  // 1: the whole schema of SQLite's migrations 1-3, plus what replicas share.
  `
  CREATE TABLE meta (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value BYTEA NOT NULL
  );

  CREATE TABLE mounts (
    path         TEXT COLLATE "C" PRIMARY KEY,
    accessor     TEXT COLLATE "C" NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    default_ttl  BIGINT NOT NULL DEFAULT 0,
    max_ttl      BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL
  );

  CREATE TABLE engine_entries (
    mount_accessor TEXT COLLATE "C" NOT NULL,
    key            TEXT COLLATE "C" NOT NULL,
    value          BYTEA NOT NULL,
    PRIMARY KEY (mount_accessor, key)
  );

  CREATE TABLE leases (
    id                TEXT COLLATE "C" PRIMARY KEY,
    mount_accessor    TEXT COLLATE "C" NOT NULL,
    secret_type       TEXT NOT NULL,
    internal          BYTEA NOT NULL,
    issue_time        BIGINT NOT NULL,
    expire_time       BIGINT NOT NULL,
    max_expire_time   BIGINT NOT NULL,
    last_renewal_time BIGINT,
    renewable         BOOLEAN NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('active', 'revoking', 'revoked', 'irrevocable')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_time BIGINT,
    last_error        TEXT,
    token_accessor    TEXT COLLATE "C",
    revoke_time       BIGINT,
    -- When the expiry scheduler must next look at this lease: the expiry of an
    -- active lease, the next retry of a revoking one, NULL otherwise.
    due_time          BIGINT,
    -- Set while a replica is making a revocation attempt: until then no other
    -- replica takes the lease (not even for an explicit revoke).
    claimed_until     BIGINT
  );
  CREATE INDEX leases_by_due_time ON leases (due_time) WHERE due_time IS NOT NULL;
  CREATE INDEX leases_by_token_and_id ON leases (token_accessor, id) WHERE token_accessor IS NOT NULL;
  CREATE INDEX leases_by_state ON leases (state, id) WHERE state != 'active';
  CREATE INDEX leases_revoking_by_due_time ON leases (due_time) WHERE state = 'revoking';
  CREATE INDEX leases_revoked_by_time ON leases (revoke_time) WHERE state = 'revoked';

  CREATE TABLE intents (
    id             TEXT COLLATE "C" PRIMARY KEY,
    lease_id       TEXT COLLATE "C" NOT NULL,
    mount_accessor TEXT COLLATE "C" NOT NULL,
    secret_type    TEXT NOT NULL,
    data           BYTEA NOT NULL,
    created_at     BIGINT NOT NULL,
    -- Set while a rollback owns the intent; a lease can no longer claim it.
    claimed_at     BIGINT,
    -- The writing process's liveness lock (OWNER_LOCK_CLASS, owner): when no
    -- session holds it, the process is gone and the intent is orphaned.
    owner          INTEGER NOT NULL
  );
  CREATE INDEX intents_by_created_at ON intents (created_at);
  CREATE INDEX intents_by_lease ON intents (lease_id);

  -- Every change of a lease's state, in order, for WatchLeases. Written in the
  -- same transaction as the change, under an advisory lock held to commit,
  -- so sequence numbers become visible in order (see pg.ts).
  CREATE TABLE lease_events (
    sequence    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type        TEXT NOT NULL,
    lease_id    TEXT COLLATE "C" NOT NULL,
    time        BIGINT NOT NULL,
    expire_time BIGINT,
    detail      TEXT
  );
  CREATE INDEX lease_events_by_time ON lease_events (time);

  CREATE TABLE revocation_jobs (
    id         TEXT COLLATE "C" PRIMARY KEY,
    prefix     TEXT COLLATE "C" NOT NULL,
    force      BOOLEAN NOT NULL,
    enqueue    BOOLEAN NOT NULL DEFAULT FALSE,
    cursor     TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    done_at    BIGINT,
    matched    BIGINT NOT NULL DEFAULT 0,
    revoked    BIGINT NOT NULL DEFAULT 0,
    failed     BIGINT NOT NULL DEFAULT 0
  );

  CREATE TABLE policies (
    name       TEXT COLLATE "C" PRIMARY KEY,
    text       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
  );

  CREATE TABLE quotas (
    name   TEXT COLLATE "C" PRIMARY KEY,
    config TEXT NOT NULL
  );

  CREATE TABLE audit_devices (
    path   TEXT COLLATE "C" PRIMARY KEY,
    config BYTEA NOT NULL
  );

  CREATE TABLE tokens (
    accessor        TEXT COLLATE "C" PRIMARY KEY,
    hash            BYTEA NOT NULL UNIQUE,
    policies        TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    parent_accessor TEXT COLLATE "C",
    created_at      BIGINT NOT NULL,
    expire_time     BIGINT,
    ttl             BIGINT NOT NULL,
    max_expire_time BIGINT,
    renewable       BOOLEAN NOT NULL,
    num_uses        BIGINT NOT NULL,
    uses_left       BIGINT NOT NULL,
    meta            TEXT NOT NULL
  );
  CREATE INDEX tokens_by_parent ON tokens (parent_accessor) WHERE parent_accessor IS NOT NULL;
  CREATE INDEX tokens_by_expire_time ON tokens (expire_time) WHERE expire_time IS NOT NULL;
  CREATE INDEX tokens_used_up ON tokens (accessor) WHERE num_uses > 0 AND uses_left = 0;

  -- Replicas sharing this database, by last heartbeat.
  CREATE TABLE replicas (
    id             TEXT COLLATE "C" PRIMARY KEY,
    last_heartbeat BIGINT NOT NULL
  );

  -- Bumped in the same transaction as every change to mounts, policies,
  -- quotas and audit devices: replicas poll it to reload their copies.
  CREATE TABLE config_version (
    one     BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    version BIGINT NOT NULL
  );
  INSERT INTO config_version (one, version) VALUES (TRUE, 1);
  `,
  // 2: a lease's own TTL (seconds), what renewing with no increment renews by;
  // NULL on leases recorded before (as SQLite's migration 4).
  `
  ALTER TABLE leases ADD COLUMN ttl BIGINT;
  `,
  // 3: the CIDR blocks a token may be used from (JSON array; empty: anywhere),
  // as SQLite's migration 5.
  `
  ALTER TABLE tokens ADD COLUMN bound_cidrs TEXT NOT NULL DEFAULT '[]';
  `,
  // 4: lease events numbered after commit (pg-sequencer.ts). A writing
  // transaction queues its events, holding no lock; lessor_number_lease_events
  // moves the committed ones into lease_events, numbered in the order they
  // were queued, one call at a time (EVENT_LOCK, held for the call only).
  // Existing events keep their numbers and the identity sequence goes on from
  // them; a replica still running the version before this one (it inserts
  // into lease_events under EVENT_LOCK) stays correct beside the new ones.
  `
  CREATE TABLE lease_event_queue (
    -- Drawn when the event is queued, at the end of its transaction, after
    -- every statement that transaction ran: an event whose transaction saw
    -- another's committed change draws a larger value than that change's
    -- events. The numbering follows it within one call.
    draft       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type        TEXT NOT NULL,
    lease_id    TEXT COLLATE "C" NOT NULL,
    time        BIGINT NOT NULL,
    expire_time BIGINT,
    detail      TEXT
  );

  -- Numbers up to batch_size committed queued events (oldest draft first)
  -- into lease_events and returns how many. Calls take turns on EVENT_LOCK,
  -- each statement reading with a snapshot taken after the previous call
  -- committed: numbers become visible in increasing order, every queued event
  -- is numbered exactly once, and an event of a transaction still in flight
  -- (invisible here) waits for a later call.
  CREATE FUNCTION lessor_number_lease_events(batch_size integer) RETURNS integer
  LANGUAGE plpgsql AS $fn$
  DECLARE
    seq regclass := pg_get_serial_sequence('lease_events', 'sequence')::regclass;
    drafts bigint[];
    n integer;
    first_sequence bigint;
  BEGIN
    PERFORM pg_advisory_xact_lock(${EVENT_LOCK});
    SELECT array_agg(draft ORDER BY draft) INTO drafts
      FROM (SELECT draft FROM lease_event_queue ORDER BY draft LIMIT batch_size) AS oldest;
    n := coalesce(cardinality(drafts), 0);
    IF n = 0 THEN
      RETURN 0;
    END IF;
    -- Under EVENT_LOCK nothing else draws from the sequence: a block of n.
    first_sequence := nextval(seq);
    IF n > 1 THEN
      PERFORM setval(seq, first_sequence + n - 1);
    END IF;
    INSERT INTO lease_events (sequence, type, lease_id, time, expire_time, detail) OVERRIDING SYSTEM VALUE
      SELECT first_sequence + d.i - 1, q.type, q.lease_id, q.time, q.expire_time, q.detail
      FROM unnest(drafts) WITH ORDINALITY AS d(draft, i) JOIN lease_event_queue AS q ON q.draft = d.draft;
    DELETE FROM lease_event_queue WHERE draft = ANY(drafts);
    RETURN n;
  END
  $fn$;
  `,
];
