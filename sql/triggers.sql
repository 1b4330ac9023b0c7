-- Notifications that wake the reactor. Payloads are hints: the reactor always
-- re-reads the tables, and an empty payload means "sweep everything".

CREATE OR REPLACE FUNCTION email_outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'queued' AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'queued') THEN
        PERFORM pg_notify('email_outbox', NEW.id::text);
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS email_outbox_notify ON email_outbox;
CREATE TRIGGER email_outbox_notify
    AFTER INSERT OR UPDATE OF status ON email_outbox
    FOR EACH ROW EXECUTE FUNCTION email_outbox_notify();

CREATE OR REPLACE FUNCTION email_accounts_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('email_accounts', OLD.acntid::text);
    ELSE
        PERFORM pg_notify('email_accounts', NEW.acntid::text);
    END IF;
    RETURN NULL;
END
$$;

-- Status columns written by the reactor itself do not fire, so recording an
-- error does not restart the account that reported it.
DROP TRIGGER IF EXISTS email_accounts_notify ON email_accounts;
CREATE TRIGGER email_accounts_notify
    AFTER INSERT OR DELETE OR UPDATE OF address, imap_host, imap_port, imap_security,
        imap_username, imap_password, imap_tls_verify, smtp_host, smtp_port,
        smtp_security, smtp_username, smtp_password, smtp_tls_verify, sent_folder, enabled
    ON email_accounts
    FOR EACH ROW EXECUTE FUNCTION email_accounts_notify();

-- A folder row added, removed or changed in priority changes which folders
-- the account watches, so it restarts the account like an account change.
CREATE OR REPLACE FUNCTION email_folders_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.priority = 'high' THEN
            PERFORM pg_notify('email_accounts', OLD.acntid::text);
        END IF;
    ELSIF TG_OP = 'INSERT' THEN
        IF NEW.priority = 'high' AND upper(NEW.name) <> 'INBOX' THEN
            PERFORM pg_notify('email_accounts', NEW.acntid::text);
        END IF;
    ELSIF OLD.priority IS DISTINCT FROM NEW.priority THEN
        PERFORM pg_notify('email_accounts', NEW.acntid::text);
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS email_folders_notify ON email_folders;
CREATE TRIGGER email_folders_notify
    AFTER INSERT OR DELETE OR UPDATE OF priority ON email_folders
    FOR EACH ROW EXECUTE FUNCTION email_folders_notify();

-- A presence update switches the owner's folders to the logged-in
-- schedule and requests an immediate recent sync of them.
CREATE OR REPLACE FUNCTION email_presence_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('email_presence', NEW.usr_id::text);
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS email_presence_notify ON email_presence;
CREATE TRIGGER email_presence_notify
    AFTER INSERT OR UPDATE ON email_presence
    FOR EACH ROW EXECUTE FUNCTION email_presence_notify();
