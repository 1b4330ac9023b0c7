#!/usr/bin/env bash
# Runs the reactor on a real local setup: two demo accounts on the test
# Dovecot, filled with a few thousand generated messages, a demo database,
# and the reactor in the foreground. After the first sync, a demo message
# goes from one account's outbox to the other's INBOX.
#
# Usage: scripts/demo.sh   (or make demo). Stop it with Ctrl-C.
# Each run starts over: the demo database and mailboxes are recreated.
set -euo pipefail

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"
COUNT=${DEMO_MESSAGES:-2000}
DB_NAME=mailreactor_demo

"$REPO/scripts/testenv.sh" up >/dev/null
# shellcheck source=/dev/null
. "$REPO/.testenv/env.sh"

if [[ ! -x bin/reactor || ! -x bin/mailfill ]]; then
	make build >/dev/null
fi

say() { printf '\n==> %s\n' "$*" >&2; }

base_url=${MAILREACTOR_TEST_DATABASE_URL%%\?*}
admin_url=$base_url
demo_url="${base_url%/*}/$DB_NAME?sslmode=disable"

say "Creating the demo database $DB_NAME"
psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" -c "CREATE DATABASE $DB_NAME"
export REACTOR_DATABASE_URL=$demo_url
bin/reactor migrate

say "Creating the demo mailboxes"
password=demo-secret
users=(anna.nowak jan.kowalski)
for user in "${users[@]}"; do
	address=$user@$MAILREACTOR_TEST_DOMAIN
	# Start each run from an empty mailbox.
	rm -rf "$REPO/.testenv/mail/$MAILREACTOR_TEST_DOMAIN/$user"
	if ! grep -q "^$address:" "$MAILREACTOR_TEST_USERS_FILE"; then
		printf '%s:{PLAIN}%s\n' "$address" "$password" >>"$MAILREACTOR_TEST_USERS_FILE"
	fi
done

# Dovecot notices a changed users file within about a second; mailfill
# stops at the login, before it appends anything, so it is safe to retry.
fill() {
	local user=$1 seed=$2 try
	for try in $(seq 1 20); do
		if MAILFILL_PASSWORD=$password bin/mailfill -addr "$MAILREACTOR_TEST_IMAPS" -tls \
			-ca-file "$MAILREACTOR_TEST_CA_FILE" -user "$user@$MAILREACTOR_TEST_DOMAIN" \
			-to "$user@$MAILREACTOR_TEST_DOMAIN" -count "$COUNT" -seed "$seed" 2>/tmp/mailfill.$$; then
			cat /tmp/mailfill.$$ >&2
			rm -f /tmp/mailfill.$$
			return 0
		fi
		if ! grep -q AUTHENTICATIONFAILED /tmp/mailfill.$$ || [[ $try == 20 ]]; then
			cat /tmp/mailfill.$$ >&2
			rm -f /tmp/mailfill.$$
			return 1
		fi
		sleep 0.5
	done
}

say "Filling each INBOX with $COUNT generated messages"
seed=1
for user in "${users[@]}"; do
	fill "$user" $seed
	seed=$((seed + 1))
done

imaps_port=${MAILREACTOR_TEST_IMAPS##*:}
submission_port=${MAILREACTOR_TEST_SUBMISSION##*:}
for user in "${users[@]}"; do
	address=$user@$MAILREACTOR_TEST_DOMAIN
	psql -q "$demo_url" -c "INSERT INTO email_accounts
		(usr_id, address, imap_host, imap_port, imap_security, imap_username, imap_password,
		 smtp_host, smtp_port, smtp_security, smtp_username, smtp_password)
		VALUES (1, '$address', 'localhost', $imaps_port, 'tls', '$address', '$password',
		        'localhost', $submission_port, 'starttls', '$address', '$password')"
done

# Once both INBOXes finished their first sync, queue one message from the
# first account to the second. The log then shows it sent over SMTP and
# received through IDLE.
queue_demo_message() {
	local synced=0
	for _ in $(seq 1 600); do
		synced=$(psql -tA "$demo_url" -c "SELECT count(*) FROM email_folders WHERE name = 'INBOX' AND last_recent_sync_at IS NOT NULL" 2>/dev/null || echo 0)
		[[ $synced == 2 ]] && break
		sleep 0.2
	done
	[[ $synced == 2 ]] || return 0
	sleep 1
	local from=${users[0]}@$MAILREACTOR_TEST_DOMAIN to=${users[1]}@$MAILREACTOR_TEST_DOMAIN
	printf '\n==> Queuing a demo message from %s to %s\n' "$from" "$to" >&2
	psql -q "$demo_url" -c "INSERT INTO email_outbox (acntid, raw)
		SELECT acntid, convert_to(E'From: Anna Nowak <$from>\r\nTo: Jan Kowalski <$to>\r\nSubject: =?UTF-8?Q?Pozdrowienia_z_reaktora_=E2=80=93_za=C5=BC=C3=B3=C5=82=C4=87?=\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nTa wiadomość przeszła z kolejki przez SMTP i IDLE.\r\n', 'UTF8')
		FROM email_accounts WHERE address = '$from'"
}

cat >&2 <<EOF2

==> Starting the reactor. Watch for:
    - "received N new messages" for each account: the first sync of its INBOX
    - "outbox message sent": the demo message left over SMTP
    - "received 1 new messages": it arrived in the other INBOX through IDLE
    Try it yourself in another terminal:
      psql '$demo_url'
      INSERT INTO email_outbox (acntid, raw) VALUES (1, convert_to(E'From: ${users[0]}@$MAILREACTOR_TEST_DOMAIN\r\nTo: ${users[1]}@$MAILREACTOR_TEST_DOMAIN\r\nSubject: hi\r\n\r\nhello\r\n', 'UTF8'));
      SELECT emsgid, emfdid, subject, from_addr, stored_at FROM email_messages ORDER BY emsgid DESC LIMIT 5;
    The administrator commands need the demo's database and certificate:
      export REACTOR_DATABASE_URL='$demo_url'
      export REACTOR_TLS_CA_FILE='$MAILREACTOR_TEST_CA_FILE'
      bin/reactor status; bin/reactor check; bin/reactor sync -account 1
    The demo accounts, for any IMAP or SMTP client (password $password):
      ${users[0]}@$MAILREACTOR_TEST_DOMAIN (acntid 1), ${users[1]}@$MAILREACTOR_TEST_DOMAIN (acntid 2)
      IMAP $MAILREACTOR_TEST_IMAP (STARTTLS), IMAPS $MAILREACTOR_TEST_IMAPS, SMTP submission $MAILREACTOR_TEST_SUBMISSION (STARTTLS)
    Stop with Ctrl-C; make env-down stops Dovecot and Postfix.

EOF2
queue_demo_message &
export REACTOR_TLS_CA_FILE=$MAILREACTOR_TEST_CA_FILE
exec bin/reactor run
