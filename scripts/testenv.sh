#!/usr/bin/env bash
# Runs the real services that the tests talk to: Dovecot (IMAP, IMAPS, LMTP),
# Postfix (SMTP, submission) and PostgreSQL, all on 127.0.0.1.
#
# Usage: scripts/testenv.sh up | down | status | env
#
# Dovecot and Postfix run as private instances whose config, data, logs,
# sockets and certificate live under .testenv/ in the repository root. They
# read neither /etc/dovecot/dovecot.conf nor /etc/postfix/main.cf, no service
# listens on port 25, and mail for any domain other than example.test is
# rejected at RCPT, never relayed.
# PostgreSQL is the machine's own cluster on 127.0.0.1:5432.
#
# Ports can be changed with MAILREACTOR_TEST_IMAP_PORT, _IMAPS_PORT, _LMTP_PORT,
# _SMTP_PORT, _SUBMISSION_PORT and _DATABASE_PORT (prefix MAILREACTOR_TEST).
# Needs root on Debian 12.
set -euo pipefail

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
TESTENV=$REPO/.testenv

HOST=127.0.0.1
DOMAIN=example.test
IMAP_PORT=${MAILREACTOR_TEST_IMAP_PORT:-11143}
IMAPS_PORT=${MAILREACTOR_TEST_IMAPS_PORT:-11993}
LMTP_PORT=${MAILREACTOR_TEST_LMTP_PORT:-11024}
SMTP_PORT=${MAILREACTOR_TEST_SMTP_PORT:-11025}
SUBMISSION_PORT=${MAILREACTOR_TEST_SUBMISSION_PORT:-11587}
PG_PORT=${MAILREACTOR_TEST_DATABASE_PORT:-5432}

# Seconds to wait for a started service to send its greeting.
START_TIMEOUT=${MAILREACTOR_TEST_START_TIMEOUT:-60}

TLS_DIR=$TESTENV/tls
CERT=$TLS_DIR/cert.pem
KEY=$TLS_DIR/key.pem
DOVECOT_DIR=$TESTENV/dovecot
DOVECOT_CONF=$DOVECOT_DIR/dovecot.conf
DOVECOT_RUN=$DOVECOT_DIR/run
LOG_DIR=$TESTENV/log
DOVECOT_LOG=$LOG_DIR/dovecot.log
USERS_FILE=$DOVECOT_DIR/users
MAIL_DIR=$TESTENV/mail
# postfix check warns about any file in the config directory that is not
# owned by root, so the queue and data directories sit beside it.
POSTFIX_DIR=$TESTENV/postfix
POSTFIX_QUEUE=$TESTENV/postfix-queue
POSTFIX_DATA=$TESTENV/postfix-data
POSTFIX_LOG=$LOG_DIR/postfix.log
STATE_FILE=$TESTENV/state
ENV_FILE=$TESTENV/env.sh

log() { printf 'testenv: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Prints the last lines of a log so a failed start shows its cause.
show_log() {
    local file=$1
    [[ -s $file ]] || return 0
    log "last lines of $file:"
    tail -n 30 -- "$file" >&2
}

# fail SERVICE LOG MESSAGE: stops `up` with the log that explains the failure.
fail() {
    show_log "$2"
    die "$1: $3 (log: $2)"
}

require_root() {
    [[ $(id -u) -eq 0 ]] || die "must run as root to install packages and start services; run: sudo $0 $*"
}

# --- packages -------------------------------------------------------------

pkg_installed() {
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

postgres_server_installed() {
    compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

# Keeps the Debian packages from starting their system-wide daemons (Dovecot
# on ports 143/993, PostgreSQL) while apt installs them: policy-rc.d exit 101
# makes invoke-rc.d skip the start. An existing policy-rc.d is left as it is.
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_CREATED=
deny_service_starts() {
    [[ -e $POLICY_RC ]] && return 0
    printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC"
    chmod 0755 "$POLICY_RC"
    POLICY_RC_CREATED=1
    trap allow_service_starts EXIT
}
allow_service_starts() {
    if [[ -n $POLICY_RC_CREATED ]]; then
        rm -f -- "$POLICY_RC"
        POLICY_RC_CREATED=
    fi
}

APT_UPDATED=

# apt_install PACKAGE...: installs with apt, updating the package lists once.
apt_install() {
    log "installing $*"
    # "No configuration" keeps the Debian package from writing
    # /etc/postfix/main.cf, so the system Postfix never starts on port 25.
    echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
    deny_service_starts
    if [[ -z $APT_UPDATED ]]; then
        apt-get update
        APT_UPDATED=1
    fi
    # --no-remove aborts instead of removing another installed mail server.
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends --no-remove "$@"
    allow_service_starts
}

install_packages() {
    local missing=() pkg
    for pkg in openssl dovecot-imapd dovecot-lmtpd postfix; do
        pkg_installed "$pkg" || missing+=("$pkg")
    done
    # pg_isready and psql come first: without them a running server on
    # 127.0.0.1:5432 would look absent.
    command -v pg_isready >/dev/null && command -v psql >/dev/null || missing+=(postgresql-client)
    ((${#missing[@]} == 0)) || apt_install "${missing[@]}"

    if ! pg_answers && ! postgres_server_installed; then
        apt_install postgresql
        PG_INSTALLED=1
    fi
}

# --- PostgreSQL -----------------------------------------------------------

PG_INSTALLED=

pg_answers() {
    pg_isready -q -h "$HOST" -p "$PG_PORT" 2>/dev/null
}

# Prints the newest version under /etc/postgresql, whose names are versions.
pg_version() {
    local version
    # shellcheck disable=SC2012
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    [[ -n $version ]] || die "postgresql: no cluster under /etc/postgresql; run: pg_createcluster <version> main"
    printf '%s\n' "$version"
}

# Sets trust auth on 127.0.0.1 for a cluster this script has just installed,
# which is what the machines of this project have.
pg_trust_loopback() {
    local version=$1 hba
    hba=/etc/postgresql/$version/main/pg_hba.conf
    grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba" && return 0
    sed -i '0,/^[^#]/s//host    all             all             127.0.0.1\/32            trust\n&/' "$hba"
}

ensure_postgres() {
    local version='' logfile
    if [[ -n $PG_INSTALLED ]]; then
        version=$(pg_version)
        pg_trust_loopback "$version"
        state_set postgres_started "$version"
        # The package may have started the cluster before trust was set.
        if pg_answers; then
            pg_ctlcluster --skip-systemctl-redirect "$version" main reload
        fi
    fi
    if ! pg_answers; then
        version=${version:-$(pg_version)}
        logfile=/var/log/postgresql/postgresql-$version-main.log
        log "starting PostgreSQL $version"
        pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
            fail postgresql "$logfile" "pg_ctlcluster $version main start failed"
        state_set postgres_started "$version"
        wait_until postgresql "$HOST:$PG_PORT" "$logfile" pg_answers
    fi
    ensure_test_database
}

ensure_test_database() {
    local exists
    exists=$(psql -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'") ||
        die "postgresql: cannot connect as user postgres to $HOST:$PG_PORT; the tests need trust auth for 127.0.0.1 in pg_hba.conf"
    [[ $exists == 1 ]] && return 0
    log "creating database test"
    createdb -h "$HOST" -p "$PG_PORT" -U postgres -O postgres test
}

# --- state ----------------------------------------------------------------

# state_set KEY VALUE records what `up` did, so that `down` undoes only that.
state_set() {
    state_unset "$1"
    printf '%s=%s\n' "$1" "$2" >>"$STATE_FILE"
}
state_get() {
    [[ -f $STATE_FILE ]] || return 0
    sed -n "s/^$1=//p" "$STATE_FILE" | tail -n 1
}
state_unset() {
    [[ -f $STATE_FILE ]] || return 0
    sed -i "/^$1=/d" "$STATE_FILE"
}

# --- files ----------------------------------------------------------------

ensure_gitignore() {
    local gitignore=$REPO/.gitignore
    [[ -f $gitignore ]] && grep -qxF '.testenv/' "$gitignore" && return 0
    # A file without a final newline would glue the entry onto its last line.
    if [[ -s $gitignore && $(tail -c 1 "$gitignore") != '' ]]; then
        echo >>"$gitignore"
    fi
    echo '.testenv/' >>"$gitignore"
}

ensure_vmail_user() {
    getent passwd vmail >/dev/null && return 0
    log "creating system user vmail"
    useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin vmail
}

# write_if_changed FILE: replaces FILE with stdin when the content differs.
# Returns 0 when it wrote the file, so callers reload only what changed.
write_if_changed() {
    local file=$1 tmp
    tmp=$(mktemp "$file.XXXXXX")
    cat >"$tmp"
    if [[ -f $file ]] && cmp -s "$tmp" "$file"; then
        rm -f -- "$tmp"
        return 1
    fi
    chmod 0644 "$tmp"
    mv -f -- "$tmp" "$file"
}

ensure_cert() {
    install -d -m 0755 "$TLS_DIR"
    # Keeps a valid certificate, so CA files that tests loaded stay valid.
    if [[ -f $CERT && -f $KEY ]] && openssl x509 -checkend 86400 -noout -in "$CERT" >/dev/null; then
        return 0
    fi
    log "creating self-signed certificate $CERT"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
        -subj /CN=localhost \
        -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
        -keyout "$KEY" -out "$CERT" 2>/dev/null
    chmod 0600 "$KEY"
    chmod 0644 "$CERT"
}

# Unix sockets are limited to 107 bytes of path, and Dovecot's longest
# socket name under base_dir is about 30 bytes.
check_socket_path() {
    ((${#DOVECOT_RUN} <= 75)) ||
        die "dovecot: socket directory $DOVECOT_RUN is longer than 75 bytes; move the repository to a shorter path"
}

# --- Dovecot --------------------------------------------------------------

write_dovecot_conf() {
    local vmail_uid ssl_dh=''
    vmail_uid=$(id -u vmail)
    # Dovecot 2.3 uses DH parameters only for DHE ciphers. Debian ships them.
    [[ -f /usr/share/dovecot/dh.pem ]] && ssl_dh='ssl_dh = </usr/share/dovecot/dh.pem'
    write_if_changed "$DOVECOT_CONF" <<EOF
# Written by scripts/testenv.sh on every \`up\`. Change the script, not this file.
# Dovecot 2.3 instance for the tests. It reads no file under /etc/dovecot.
instance_name = mailreactor-test
base_dir = $DOVECOT_RUN
state_dir = $DOVECOT_DIR/state
log_path = $DOVECOT_LOG
protocols = imap lmtp
listen = $HOST
hostname = localhost

ssl = yes
ssl_cert = <$CERT
ssl_key = <$KEY
$ssl_dh

# Tests log in with LOGIN over plaintext IMAP, and STARTTLS is still offered.
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Lu
# Tests of wrong passwords would otherwise wait 2 s for each failure.
auth_failure_delay = 0
auth_verbose = yes

first_valid_uid = $vmail_uid
mail_location = maildir:~/Maildir

# Lookups stat the users file at most once a second and re-read it when it
# changed (passwd_file_sync in Dovecot 2.3's src/auth/db-passwd-file.c), so
# users appended by the tests can log in within about 2 s without a reload.
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu $USERS_FILE
}
userdb {
  driver = static
  args = uid=vmail gid=vmail home=$MAIL_DIR/%d/%n
}

namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \Sent
    auto = subscribe
  }
  mailbox Drafts {
    special_use = \Drafts
    auto = subscribe
  }
  mailbox Trash {
    special_use = \Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \Junk
    auto = subscribe
  }
}

protocol imap {
  # Every test connects from 127.0.0.1, often with many connections per user.
  mail_max_userip_connections = 1000
}

service imap-login {
  # One process serves many connections: the per-connection default would cap
  # IMAPS, whose login process stays for the whole session, at 100 clients.
  service_count = 0
  process_min_avail = 1
  inet_listener imap {
    address = $HOST
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = $HOST
    port = $IMAPS_PORT
    ssl = yes
  }
}

service lmtp {
  inet_listener lmtp {
    address = $HOST
    port = $LMTP_PORT
  }
}

# Dovecot delays logins from an IP address by up to 15 s after failed ones
# (auth penalty). Every test connects from 127.0.0.1, and a test user's first
# login may fail until passwd-file is re-read, so the delay would slow all
# tests. With mode 0 Dovecot creates no such socket, and the auth process
# then runs without the penalty.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}

service auth {
  # Postfix's submission service authenticates SASL clients here.
  unix_listener auth-postfix {
    mode = 0660
    user = postfix
    group = postfix
  }
}
EOF
}

dovecot_pid() {
    local pid
    [[ -f $DOVECOT_RUN/master.pid ]] || return 1
    pid=$(<"$DOVECOT_RUN/master.pid")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && printf '%s\n' "$pid"
}

prepare_dovecot() {
    install -d -m 0755 "$DOVECOT_DIR" "$DOVECOT_DIR/state"
    install -d -m 0750 -o vmail -g vmail "$MAIL_DIR"
    if [[ ! -e $USERS_FILE ]]; then
        install -m 0640 -o root -g dovecot /dev/null "$USERS_FILE"
    fi
}

start_dovecot() {
    local changed=
    prepare_dovecot
    write_dovecot_conf && changed=1
    if dovecot_pid >/dev/null; then
        if [[ -n $changed ]]; then
            log "reloading Dovecot: $DOVECOT_CONF changed"
            dovecot -c "$DOVECOT_CONF" reload
        fi
        return 0
    fi
    check_ports_free dovecot IMAP_PORT IMAPS_PORT LMTP_PORT
    log "starting Dovecot ($DOVECOT_CONF)"
    dovecot -c "$DOVECOT_CONF" 2>>"$DOVECOT_LOG" ||
        fail dovecot "$DOVECOT_LOG" "dovecot -c $DOVECOT_CONF failed to start"
}

stop_dovecot() {
    dovecot_pid >/dev/null || return 0
    log "stopping Dovecot"
    dovecot -c "$DOVECOT_CONF" stop
    wait_while "Dovecot to stop" dovecot_pid
}

# --- Postfix --------------------------------------------------------------

write_postfix_main_cf() {
    write_if_changed "$POSTFIX_DIR/main.cf" <<EOF
# Written by scripts/testenv.sh on every \`up\`. Change the script, not this file.
# Postfix instance for the tests, separate from the system's /etc/postfix.
compatibility_level = 3.6
queue_directory = $POSTFIX_QUEUE
data_directory = $POSTFIX_DATA
maillog_file = $POSTFIX_LOG
maillog_file_prefixes = $TESTENV
myhostname = localhost
mydomain = $DOMAIN
myorigin = \$myhostname
inet_interfaces = $HOST
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
biff = no

# Nothing is delivered on this host and nothing is relayed: mail for
# $DOMAIN goes to Dovecot over LMTP, and every other domain is rejected at
# RCPT (reject_unauth_destination) or, for mail generated here such as
# bounces, ends in the error transport. master.cf has no smtp client service.
mydestination =
relay_domains =
relayhost =
alias_maps =
alias_database =
local_recipient_maps =
default_transport = error:mail outside $DOMAIN is not delivered by the test environment
relay_transport = \$default_transport
local_transport = \$default_transport
virtual_mailbox_domains = $DOMAIN
virtual_transport = lmtp:inet:$HOST:$LMTP_PORT
# Dovecot's LMTP decides which recipients exist.
smtpd_reject_unlisted_recipient = no
smtpd_relay_restrictions = reject_unauth_destination

# Clients are all on loopback, so a reverse DNS lookup would tell nothing.
smtpd_peername_lookup = no

# Tests expect mail in the mailbox within seconds: no arrival throttle, no
# pause after rejected commands, and quick retries after Dovecot restarts.
in_flow_delay = 0
smtpd_error_sleep_time = 0
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 30s
transport_retry_time = 5s

smtpd_banner = \$myhostname ESMTP
smtpd_tls_cert_file = $CERT
smtpd_tls_key_file = $KEY
smtpd_tls_security_level = may
smtpd_sasl_type = dovecot
smtpd_sasl_path = $DOVECOT_RUN/auth-postfix
smtpd_sasl_security_options = noanonymous
smtpd_sasl_auth_enable = no
EOF
}

write_postfix_master_cf() {
    write_if_changed "$POSTFIX_DIR/master.cf" <<EOF
# Written by scripts/testenv.sh on every \`up\`. Change the script, not this file.
# No service runs chrooted, so paths under .testenv/ work as written.
# service  type  private unpriv  chroot  wakeup  maxproc command
$HOST:$SMTP_PORT inet n - n - - smtpd
  -o smtpd_client_restrictions=permit_mynetworks,reject
$HOST:$SUBMISSION_PORT inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
pickup     unix  n  -  n  60    1  pickup
cleanup    unix  n  -  n  -     0  cleanup
qmgr       unix  n  -  n  300   1  qmgr
tlsmgr     unix  -  -  n  1000? 1  tlsmgr
rewrite    unix  -  -  n  -     -  trivial-rewrite
bounce     unix  -  -  n  -     0  bounce
defer      unix  -  -  n  -     0  bounce
trace      unix  -  -  n  -     0  bounce
verify     unix  -  -  n  -     1  verify
flush      unix  n  -  n  1000? 0  flush
proxymap   unix  -  -  n  -     -  proxymap
proxywrite unix  -  -  n  -     1  proxymap
showq      unix  n  -  n  -     -  showq
error      unix  -  -  n  -     -  error
retry      unix  -  -  n  -     -  error
discard    unix  -  -  n  -     -  discard
lmtp       unix  -  -  n  -     -  lmtp
anvil      unix  -  -  n  -     1  anvil
scache     unix  -  -  n  -     1  scache
postlog    unix-dgram n - n -   1  postlogd
EOF
}

postfix_running() {
    postfix -c "$POSTFIX_DIR" status >/dev/null 2>&1
}

start_postfix() {
    local changed=
    install -d -m 0755 "$POSTFIX_DIR" "$POSTFIX_QUEUE"
    install -d -m 0700 -o postfix -g postfix "$POSTFIX_DATA"
    write_postfix_main_cf && changed=1
    write_postfix_master_cf && changed=1
    if postfix_running; then
        if [[ -n $changed ]]; then
            log "reloading Postfix: $POSTFIX_DIR changed"
            postfix -c "$POSTFIX_DIR" reload 2>>"$POSTFIX_LOG"
        fi
        return 0
    fi
    check_ports_free postfix SMTP_PORT SUBMISSION_PORT
    log "starting Postfix ($POSTFIX_DIR)"
    # create-missing makes the queue directories with Postfix's owners and modes.
    postfix -c "$POSTFIX_DIR" post-install create-missing >>"$POSTFIX_LOG" 2>&1 ||
        fail postfix "$POSTFIX_LOG" "postfix -c $POSTFIX_DIR post-install create-missing failed"
    postfix -c "$POSTFIX_DIR" check >>"$POSTFIX_LOG" 2>&1 ||
        fail postfix "$POSTFIX_LOG" "postfix -c $POSTFIX_DIR check failed"
    postfix -c "$POSTFIX_DIR" start >>"$POSTFIX_LOG" 2>&1 ||
        fail postfix "$POSTFIX_LOG" "postfix -c $POSTFIX_DIR start failed"
}

stop_postfix() {
    postfix_running || return 0
    log "stopping Postfix"
    postfix -c "$POSTFIX_DIR" stop
    wait_while "Postfix to stop" postfix_running
}

# --- waiting --------------------------------------------------------------

# first_line PORT prints the greeting that a plaintext server sends.
# shellcheck disable=SC2016 # the inner bash expands $0 and $1
first_line() {
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && IFS= read -r -t 2 line <&3 && printf "%s\n" "$line"' \
        "$HOST" "$1" 2>/dev/null
}

# shellcheck disable=SC2016 # the inner bash expands $0 and $1
port_open() {
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$1" 2>/dev/null
}

# greets PORT PREFIX: the server on PORT sends a greeting starting with PREFIX.
greets() {
    [[ $(first_line "$1") == "$2"* ]]
}

# The IMAPS greeting arrives only through TLS, and the handshake must verify
# against the certificate that the tests use as their CA file.
imaps_greets() {
    printf 'a LOGOUT\r\n' |
        timeout 5 openssl s_client -quiet -connect "$HOST:$IMAPS_PORT" -CAfile "$CERT" \
            -verify_return_error -verify_ip "$HOST" 2>/dev/null | grep -q '^\* OK'
}

# wait_until SERVICE ADDRESS LOG COMMAND...: polls COMMAND until it succeeds.
wait_until() {
    local service=$1 address=$2 logfile=$3 deadline=$((SECONDS + START_TIMEOUT))
    shift 3
    "$@" && return 0
    log "waiting for $service on $address (up to ${START_TIMEOUT}s)"
    until "$@"; do
        ((SECONDS < deadline)) || fail "$service" "$logfile" "no answer on $address within ${START_TIMEOUT}s"
        sleep 0.2
    done
}

# wait_while WHAT COMMAND...: polls until COMMAND fails, so ports are free again.
wait_while() {
    local what=$1 deadline=$((SECONDS + START_TIMEOUT))
    shift
    while "$@" >/dev/null; do
        ((SECONDS < deadline)) || die "timed out after ${START_TIMEOUT}s waiting for $what"
        sleep 0.2
    done
}

# check_ports_free SERVICE VARIABLE...: VARIABLE names a port, such as SMTP_PORT.
# A port that accepts connections before our instance started belongs to
# another process, and our instance would fail to bind it.
check_ports_free() {
    local service=$1 variable port
    shift
    for variable in "$@"; do
        port=${!variable}
        if port_open "$port"; then
            die "$service: port $HOST:$port is already in use by another process (see: ss -ltnp); stop it or set MAILREACTOR_TEST_$variable"
        fi
    done
}

wait_for_services() {
    wait_until "dovecot imap" "$HOST:$IMAP_PORT" "$DOVECOT_LOG" greets "$IMAP_PORT" '* OK'
    wait_until "dovecot imaps" "$HOST:$IMAPS_PORT" "$DOVECOT_LOG" imaps_greets
    wait_until "dovecot lmtp" "$HOST:$LMTP_PORT" "$DOVECOT_LOG" greets "$LMTP_PORT" 220
    wait_until "dovecot auth socket" "$DOVECOT_RUN/auth-postfix" "$DOVECOT_LOG" test -S "$DOVECOT_RUN/auth-postfix"
    wait_until "postfix smtp" "$HOST:$SMTP_PORT" "$POSTFIX_LOG" greets "$SMTP_PORT" 220
    wait_until "postfix submission" "$HOST:$SUBMISSION_PORT" "$POSTFIX_LOG" greets "$SUBMISSION_PORT" 220
}

# --- env ------------------------------------------------------------------

write_env_file() {
    write_if_changed "$ENV_FILE" <<EOF || true
# Written by scripts/testenv.sh up. Load with: . $ENV_FILE
export MAILREACTOR_TEST_DATABASE_URL='postgres://postgres@$HOST:$PG_PORT/test?sslmode=disable'
export MAILREACTOR_TEST_IMAP='$HOST:$IMAP_PORT'
export MAILREACTOR_TEST_IMAPS='$HOST:$IMAPS_PORT'
export MAILREACTOR_TEST_SMTP='$HOST:$SMTP_PORT'
export MAILREACTOR_TEST_SUBMISSION='$HOST:$SUBMISSION_PORT'
export MAILREACTOR_TEST_LMTP='$HOST:$LMTP_PORT'
export MAILREACTOR_TEST_USERS_FILE='$USERS_FILE'
export MAILREACTOR_TEST_DOMAIN='$DOMAIN'
export MAILREACTOR_TEST_CA_FILE='$CERT'
export MAILREACTOR_TEST_DOVECOT_CONF='$DOVECOT_CONF'
EOF
}

# --- commands -------------------------------------------------------------

cmd_up() {
    require_root up
    check_socket_path
    install -d -m 0755 "$TESTENV" "$LOG_DIR"
    ensure_gitignore
    install_packages
    ensure_postgres
    ensure_vmail_user
    ensure_cert
    start_dovecot
    start_postfix
    wait_for_services
    write_env_file
    log "ready; load the settings with: . $ENV_FILE"
}

cmd_down() {
    local version
    require_root down
    stop_postfix
    stop_dovecot
    version=$(state_get postgres_started)
    if [[ -n $version ]]; then
        log "stopping PostgreSQL $version, which \`up\` started"
        pg_ctlcluster --skip-systemctl-redirect "$version" main stop
        state_unset postgres_started
    fi
}

# status_line SERVICE ADDRESSES COMMAND...: one line, running or not.
status_line() {
    local service=$1 addresses=$2
    shift 2
    if "$@" >/dev/null 2>&1; then
        printf '%-10s running      %s\n' "$service" "$addresses"
    else
        printf '%-10s not running  %s\n' "$service" "$addresses"
        return 1
    fi
}

cmd_status() {
    local rc=0
    status_line postgresql "$HOST:$PG_PORT" pg_answers || rc=1
    status_line dovecot "imap $HOST:$IMAP_PORT, imaps $HOST:$IMAPS_PORT, lmtp $HOST:$LMTP_PORT" dovecot_pid || rc=1
    status_line postfix "smtp $HOST:$SMTP_PORT, submission $HOST:$SUBMISSION_PORT" postfix_running || rc=1
    return "$rc"
}

cmd_env() {
    [[ -f $ENV_FILE ]] || die "$ENV_FILE not found; run: scripts/testenv.sh up"
    cat -- "$ENV_FILE"
}

usage() {
    echo "usage: $0 up | down | status | env" >&2
    exit 2
}

main() {
    (($# == 1)) || usage
    case $1 in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *) usage ;;
    esac
}

main "$@"
