-- Tables of the mail store. Every statement is safe to run again on a migrated
-- database, so `reactor migrate` can be repeated after each upgrade.

CREATE TABLE IF NOT EXISTS reactor_schema_version (
    version    integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS email_accounts (
    acntid          bigserial PRIMARY KEY,
    usr_id          bigint,
    address         text NOT NULL,
    imap_host       text NOT NULL DEFAULT '',
    imap_port       integer NOT NULL DEFAULT 993,
    imap_security   text NOT NULL DEFAULT 'tls'
                    CHECK (imap_security IN ('tls', 'starttls', 'none')),
    imap_username   text NOT NULL DEFAULT '',
    imap_password   text NOT NULL DEFAULT '',
    imap_tls_verify boolean NOT NULL DEFAULT true,
    smtp_host       text NOT NULL DEFAULT '',
    smtp_port       integer NOT NULL DEFAULT 587,
    smtp_security   text NOT NULL DEFAULT 'starttls'
                    CHECK (smtp_security IN ('tls', 'starttls', 'none')),
    smtp_username   text NOT NULL DEFAULT '',
    smtp_password   text NOT NULL DEFAULT '',
    smtp_tls_verify boolean NOT NULL DEFAULT true,
    sent_folder     text,
    enabled         boolean NOT NULL DEFAULT true,
    -- Written by the reactor: 'ok', 'error' or 'auth_failed'.
    status          text NOT NULL DEFAULT 'new',
    last_error      text,
    last_error_at   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS email_folders (
    emfdid             bigserial PRIMARY KEY,
    acntid             bigint NOT NULL REFERENCES email_accounts ON DELETE CASCADE,
    -- The mailbox name exactly as the server sends it.
    name               text NOT NULL,
    display_name       text,
    priority           text NOT NULL DEFAULT 'low' CHECK (priority IN ('high', 'low')),
    special_use        text,
    uidvalidity        bigint,
    -- Highest UID stored for uidvalidity, committed with the messages.
    last_uid           bigint NOT NULL DEFAULT 0,
    highest_modseq     bigint,
    last_recent_sync_at timestamptz,
    last_full_sync_at  timestamptz,
    last_error         text,
    last_error_at      timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (acntid, name),
    CONSTRAINT email_folders_inbox_high CHECK (upper(name) <> 'INBOX' OR priority = 'high')
);

-- The state of the folder's watcher, as its reactor last wrote it, and
-- since when, for `reactor status`. Values are listed in store/watch.go.
ALTER TABLE email_folders ADD COLUMN IF NOT EXISTS watch_state text;
ALTER TABLE email_folders ADD COLUMN IF NOT EXISTS watch_state_at timestamptz;

-- Set when the server no longer lists the mailbox, cleared when it lists it
-- again. The row and its messages are kept.
ALTER TABLE email_folders ADD COLUMN IF NOT EXISTS gone_at timestamptz;

CREATE TABLE IF NOT EXISTS email_messages (
    emsgid        bigserial PRIMARY KEY,
    emfdid        bigint NOT NULL REFERENCES email_folders ON DELETE CASCADE,
    uidvalidity   bigint NOT NULL,
    uid           bigint NOT NULL,
    message_id    text,
    subject       text,
    from_addr     text,
    to_addrs      text,
    cc_addrs      text,
    date          timestamptz,
    internal_date timestamptz,
    flags         text[] NOT NULL DEFAULT '{}',
    size          bigint NOT NULL DEFAULT 0,
    raw           bytea NOT NULL,
    -- Set when the message could not be parsed; the raw bytes are kept anyway.
    parse_error   text,
    stored_at     timestamptz NOT NULL DEFAULT now(),
    expunged_at   timestamptz,
    UNIQUE (emfdid, uidvalidity, uid)
);

CREATE INDEX IF NOT EXISTS email_messages_message_id ON email_messages (message_id);

-- A row with a negative uid (-emsgid) is detached: it is marked expunged,
-- and the server gave its (uidvalidity, uid) to another message, either
-- after its UIDs went back or when a folder got an earlier UIDVALIDITY
-- again. The row keeps its emsgid and content.

CREATE TABLE IF NOT EXISTS email_outbox (
    id              bigserial PRIMARY KEY,
    acntid          bigint NOT NULL REFERENCES email_accounts ON DELETE CASCADE,
    raw             bytea,
    -- Envelope recipients. NULL means the To, Cc and Bcc headers of raw.
    rcpt_to         text[],
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_by      text,
    lease_until     timestamptz,
    last_error      text,
    smtp_reply      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);

CREATE INDEX IF NOT EXISTS email_outbox_due ON email_outbox (next_attempt_at)
    WHERE status IN ('queued', 'sending');

-- A row whose raw is NULL is composed from these fields. Addresses are
-- RFC 5322 mailboxes in UTF-8, such as 'Łukasz Nowak <lukasz@example.pl>'.
-- from_addr NULL means the account's address. rcpt_to, when set, is the
-- envelope; otherwise To, Cc and Bcc are.
ALTER TABLE email_outbox ADD COLUMN IF NOT EXISTS from_addr text;
ALTER TABLE email_outbox ADD COLUMN IF NOT EXISTS to_addrs text[];
ALTER TABLE email_outbox ADD COLUMN IF NOT EXISTS cc_addrs text[];
ALTER TABLE email_outbox ADD COLUMN IF NOT EXISTS bcc_addrs text[];
ALTER TABLE email_outbox ADD COLUMN IF NOT EXISTS subject text;
ALTER TABLE email_outbox ADD COLUMN IF NOT EXISTS body_text text;
ALTER TABLE email_outbox ADD COLUMN IF NOT EXISTS body_html text;
-- Without angle brackets. The reactor fills it before the first attempt,
-- from raw's Message-ID header or a new identifier, and every attempt and
-- the Sent copy use it.
ALTER TABLE email_outbox ADD COLUMN IF NOT EXISTS message_id text;
-- Set when an attempt ended without a known outcome: the connection broke
-- after the final dot, or a claim's lease expired while its reactor may
-- have been sending. Recipients may then get the message twice.
ALTER TABLE email_outbox ADD COLUMN IF NOT EXISTS possible_duplicate boolean NOT NULL DEFAULT false;
-- Recipients the server rejected permanently while it accepted others,
-- one 'address: reply' a line.
ALTER TABLE email_outbox ADD COLUMN IF NOT EXISTS refused_recipients text;
-- The copy in the account's Sent folder, after the server accepted the
-- message: NULL before that, then 'off' (the account's sent_copy is
-- false), 'appending' (claimed by sent_copy_claimed_by until
-- sent_copy_next_at), 'pending' (due at sent_copy_next_at), 'done', or
-- 'failed' (given up after REACTOR_OUTBOX_MAX_AGE).
ALTER TABLE email_outbox ADD COLUMN IF NOT EXISTS sent_copy_status text
    CHECK (sent_copy_status IN ('off', 'appending', 'pending', 'done', 'failed'));
ALTER TABLE email_outbox ADD COLUMN IF NOT EXISTS sent_copy_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE email_outbox ADD COLUMN IF NOT EXISTS sent_copy_next_at timestamptz;
ALTER TABLE email_outbox ADD COLUMN IF NOT EXISTS sent_copy_claimed_by text;
ALTER TABLE email_outbox ADD COLUMN IF NOT EXISTS sent_copy_error text;
ALTER TABLE email_outbox ADD COLUMN IF NOT EXISTS sent_copy_at timestamptz;

CREATE INDEX IF NOT EXISTS email_outbox_sent_copy_due ON email_outbox (sent_copy_next_at)
    WHERE sent_copy_status IN ('appending', 'pending');

-- Attachments of a composed row, in id order.
CREATE TABLE IF NOT EXISTS email_outbox_attachments (
    id           bigserial PRIMARY KEY,
    outbox_id    bigint NOT NULL REFERENCES email_outbox ON DELETE CASCADE,
    filename     text NOT NULL,
    -- NULL or empty means application/octet-stream.
    content_type text,
    data         bytea NOT NULL
);

CREATE INDEX IF NOT EXISTS email_outbox_attachments_outbox ON email_outbox_attachments (outbox_id, id);

-- Whether a sent message is appended to the account's Sent folder. Turn it
-- off for servers that file submitted mail themselves, as Gmail does.
ALTER TABLE email_accounts ADD COLUMN IF NOT EXISTS sent_copy boolean NOT NULL DEFAULT true;

CREATE TABLE IF NOT EXISTS email_presence (
    usr_id       bigint PRIMARY KEY,
    last_seen_at timestamptz NOT NULL DEFAULT now()
);

-- Version 2 adds composed rows, the Sent copy and possible_duplicate.
-- Version 3 adds folder discovery (gone_at), watcher states, and the
-- folder and presence triggers.
INSERT INTO reactor_schema_version (version) VALUES (1), (2), (3) ON CONFLICT DO NOTHING;
