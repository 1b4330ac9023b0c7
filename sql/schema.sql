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

CREATE TABLE IF NOT EXISTS email_presence (
    usr_id       bigint PRIMARY KEY,
    last_seen_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO reactor_schema_version (version) VALUES (1) ON CONFLICT DO NOTHING;
