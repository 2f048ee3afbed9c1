#!/usr/bin/env bash
# NovAlgo installer for a fresh Ubuntu/Debian VM. Idempotent: run it again to update the code.
#
#   sudo deploy/install.sh                                  bot on 127.0.0.1:8000 only
#   sudo deploy/install.sh --with-nginx bot.example.com \
#        [--email you@example.com] [--owner-ip 203.0.113.7] nginx + Let's Encrypt in front
#        [--require-tradingview-cert]                       /webhook only with TradingView's
#        [--tradingview-ca-bundle FILE]                     client certificate (CAs: FILE)
#   sudo deploy/install.sh --port80                         no nginx: the bot binds port 80
#   sudo deploy/install.sh --uninstall [--purge]            remove (keeps data and settings
#                                                           unless --purge)
#   deploy/install.sh --root DIR [other options]            lay the files into DIR and only
#                                                           print the system commands
#
# It never overwrites /etc/novalgo/novalgo.env or a generated webhook secret. See docs/DEPLOY.md.
set -euo pipefail

APP_USER=novalgo
UNIT=trading-bot.service
PORT80_UNIT=trading-bot-port80.service
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# What of the checkout the server needs (tests and benchmarks stay behind).
CODE_PATHS=(novalgo analytics deploy docs pyproject.toml requirements.txt README.md LICENSE trading-bot.service)

ROOT=""
DOMAIN=""
EMAIL=""
OWNER_IPS=()
TV_CERT=no
# The CAs TradingView's webhook certificate must chain to (docs/DEPLOY.md).
SYSTEM_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
TV_CA_BUNDLE=$SYSTEM_CA_BUNDLE
PORT80=no
ACTION=install
PURGE=no

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

die() {
  echo "install.sh: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
    --with-nginx) DOMAIN="${2:?--with-nginx needs the domain name}"; shift 2 ;;
    --email) EMAIL="${2:?--email needs an address}"; shift 2 ;;
    --owner-ip) OWNER_IPS+=("${2:?--owner-ip needs an address}"); shift 2 ;;
    --require-tradingview-cert) TV_CERT=yes; shift ;;
    --tradingview-ca-bundle) TV_CA_BUNDLE="${2:?--tradingview-ca-bundle needs a file}"; shift 2 ;;
    --port80) PORT80=yes; shift ;;
    --uninstall) ACTION=uninstall; shift ;;
    --purge) PURGE=yes; shift ;;
    -h | --help) usage 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage 2 ;;
  esac
done

if [ -n "$ROOT" ]; then
  mkdir -p "$ROOT"
  ROOT="$(cd "$ROOT" && pwd)"
  [ "$ROOT" != / ] || die "--root / is the real system: run without --root instead"
elif [ "$(id -u)" -ne 0 ]; then
  die "run as root (sudo), or use --root DIR to try it in a scratch directory"
fi
if [ -n "$DOMAIN" ] && ! [[ "$DOMAIN" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]]; then
  die "--with-nginx: '$DOMAIN' is not a domain name"
fi
for ip in "${OWNER_IPS[@]+"${OWNER_IPS[@]}"}"; do
  [[ "$ip" =~ ^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$ ]] || die "--owner-ip: '$ip' is not an IP address"
done
if [ "$PORT80" = yes ] && [ -n "$DOMAIN" ]; then
  die "--port80 and --with-nginx both want port 80: pick one"
fi
if [ "$TV_CERT" = yes ] && [ -z "$DOMAIN" ]; then
  die "--require-tradingview-cert is an nginx setting: use it with --with-nginx"
fi
if [ "$TV_CA_BUNDLE" != "$SYSTEM_CA_BUNDLE" ]; then
  [ "$TV_CERT" = yes ] || die "--tradingview-ca-bundle goes with --require-tradingview-cert"
  # It goes into nginx's config as it is: an absolute path, nothing nginx would read as syntax.
  [[ "$TV_CA_BUNDLE" =~ ^/[A-Za-z0-9._/+-]+$ ]] || die "--tradingview-ca-bundle: '$TV_CA_BUNDLE' is not an absolute file path"
  if [ -z "$ROOT" ] && [ ! -s "$TV_CA_BUNDLE" ]; then
    die "--tradingview-ca-bundle: $TV_CA_BUNDLE does not exist or is empty"
  fi
fi

OPT="$ROOT/opt/novalgo"
ETC="$ROOT/etc/novalgo"
ENV_FILE="$ETC/novalgo.env"
DATA="$ROOT/var/lib/novalgo"
UNIT_DIR="$ROOT/etc/systemd/system"
CRON_FILE="$ROOT/etc/cron.d/novalgo"
NGINX="$ROOT/etc/nginx"
ACME_ROOT="$ROOT/var/www/letsencrypt"

# System commands (packages, users, ownership, services) run for real, or are printed in a
# scratch root, where they would touch the real machine.
run() {
  if [ -n "$ROOT" ]; then
    printf 'would run:'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

say() {
  echo "==> $*"
}

# ---------------------------------------------------------------------------------------------

install_packages() {
  local wanted=(python3 python3-venv) missing=() package
  if [ -n "$DOMAIN" ]; then wanted+=(nginx certbot); fi
  if [ "$TV_CERT" = yes ]; then wanted+=(ca-certificates); fi
  if [ -n "$ROOT" ]; then
    run apt-get install -y "${wanted[@]}"
    return
  fi
  for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "NovAlgo needs Python 3.11 or newer (Debian 12, Ubuntu 24.04); this python3 is older"
}

create_user() {
  if [ -n "$ROOT" ] || ! id -u "$APP_USER" >/dev/null 2>&1; then
    run useradd --system --user-group --home-dir /var/lib/novalgo --no-create-home \
      --shell /usr/sbin/nologin "$APP_USER"
  fi
}

create_directories() {
  install -d -m 0755 "$OPT"
  # Settings readable by the service's group only; data by the service only.
  install -d -m 0750 "$ETC" "$DATA"
  run chown "root:$APP_USER" "$ETC"
  run chown "$APP_USER:$APP_USER" "$DATA"
}

copy_code() {
  local path
  say "copying the code to $OPT"
  for path in "${CODE_PATHS[@]}"; do
    rm -rf "${OPT:?}/$path"  # so files deleted upstream disappear here too
    if [ -e "$SOURCE/$path" ]; then
      tar -C "$SOURCE" --exclude=__pycache__ --exclude='*.pyc' --exclude='*.egg-info' \
        --no-same-owner -cf - "$path" | tar -C "$OPT" --no-same-owner -xf -
    fi
  done
  # The service may read its code, never change it.
  run chown -R root:root "$OPT"
}

build_venv() {
  say "building the virtualenv $OPT/.venv"
  if [ -n "$ROOT" ] || [ ! -x "$OPT/.venv/bin/python" ]; then
    run python3 -m venv "$OPT/.venv"
  fi
  run "$OPT/.venv/bin/pip" install --quiet --upgrade pip
  run "$OPT/.venv/bin/pip" install --quiet -r "$OPT/requirements.txt"
  run "$OPT/.venv/bin/pip" install --quiet --no-deps -e "$OPT"
  # The service cannot write its own code directory, so compile the bytecode now.
  run "$OPT/.venv/bin/python" -m compileall -q "$OPT/novalgo" "$OPT/analytics"
}

install_env_file() {
  if [ -e "$ENV_FILE" ]; then
    say "keeping your settings in $ENV_FILE"
  else
    say "writing the settings template $ENV_FILE (placeholders only: fill it in)"
    install -m 0600 "$SOURCE/deploy/novalgo.env.example" "$ENV_FILE"
  fi
  # Secrets go in here: whatever happened to it, it is the service's and nobody else's.
  chmod 0600 "$ENV_FILE"
  run chown "$APP_USER:$APP_USER" "$ENV_FILE"
}

generate_webhook_secret() {
  local secret_file="$DATA/webhook_secret"
  if grep -Eq '^[[:space:]]*NOVALGO_WEBHOOK_SECRET=[^[:space:]]' "$ENV_FILE"; then
    return
  fi
  if [ ! -s "$secret_file" ]; then
    say "generating a webhook secret into $secret_file"
    (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(24))' >"$secret_file")
  fi
  chmod 0600 "$secret_file"
  run chown "$APP_USER:$APP_USER" "$secret_file"
}

install_units() {
  install -d -m 0755 "$UNIT_DIR"
  install -m 0644 "$SOURCE/trading-bot.service" "$UNIT_DIR/$UNIT"
  install -m 0644 "$SOURCE/deploy/trading-bot-port80.service" "$UNIT_DIR/$PORT80_UNIT"
}

install_cron() {
  if [ -f "$SOURCE/deploy/novalgo.cron" ]; then
    # cron ignores files in cron.d whose names contain a dot, hence "novalgo".
    install -d -m 0755 "$(dirname "$CRON_FILE")"
    install -m 0644 "$SOURCE/deploy/novalgo.cron" "$CRON_FILE"
  else
    say "no deploy/novalgo.cron in this checkout: reports are not scheduled"
  fi
}

start_service() {
  local chosen=$UNIT other=$PORT80_UNIT
  if [ "$PORT80" = yes ]; then chosen=$PORT80_UNIT other=$UNIT; fi
  run systemctl daemon-reload
  if [ -n "$ROOT" ] || systemctl is-enabled --quiet "$other" 2>/dev/null; then
    run systemctl disable --now "$other"
  fi
  run systemctl enable "$chosen"
  run systemctl restart "$chosen"
}

# nginx names certificate files that exist only after certbot ran, and certbot needs nginx
# to answer its challenge on port 80: so first a port-80-only site, then the real one.
install_nginx_site() {
  local cert="$ROOT/etc/letsencrypt/live/$DOMAIN/fullchain.pem" owner="$NGINX/snippets/novalgo-owner.conf" ip
  install -d -m 0755 "$NGINX/sites-available" "$NGINX/sites-enabled" "$NGINX/snippets" "$ACME_ROOT"
  install -m 0644 "$SOURCE/deploy/nginx/snippets/novalgo-common.conf" "$NGINX/snippets/"
  install -m 0644 "$SOURCE/deploy/nginx/snippets/novalgo-tradingview.conf" "$NGINX/snippets/"
  if [ ! -e "$owner" ]; then
    install -m 0644 "$SOURCE/deploy/nginx/snippets/novalgo-owner.conf" "$owner"
    for ip in "${OWNER_IPS[@]+"${OWNER_IPS[@]}"}"; do
      echo "allow $ip;" >>"$owner"
    done
  elif [ "${#OWNER_IPS[@]}" -gt 0 ]; then
    say "keeping $owner as it is (edit it to change the owner's addresses)"
  fi
  # Debian's stock site also claims default_server on port 80.
  if [ -L "$NGINX/sites-enabled/default" ]; then
    rm -f "$NGINX/sites-enabled/default"
  fi
  ln -sfn ../sites-available/novalgo.conf "$NGINX/sites-enabled/novalgo.conf"
  if [ ! -e "$cert" ]; then
    say "asking Let's Encrypt for a certificate for $DOMAIN"
    sed "s/novalgo\.example\.com/$DOMAIN/g" "$SOURCE/deploy/nginx/novalgo-acme.conf" >"$NGINX/sites-available/novalgo.conf"
    run nginx -t
    run systemctl reload-or-restart nginx
    local contact=(--register-unsafely-without-email)
    if [ -n "$EMAIL" ]; then contact=(--email "$EMAIL"); fi
    run certbot certonly --webroot -w /var/www/letsencrypt -d "$DOMAIN" --non-interactive \
      --agree-tos "${contact[@]}" --deploy-hook "systemctl reload nginx"
  fi
  sed "s/novalgo\.example\.com/$DOMAIN/g" "$SOURCE/deploy/nginx/novalgo.conf" >"$NGINX/sites-available/novalgo.conf"
  if [ "$TV_CERT" = yes ]; then require_tradingview_cert; else drop_tradingview_cert; fi
  chmod 0644 "$NGINX/sites-available/novalgo.conf"
  run nginx -t
  run systemctl reload-or-restart nginx
}

# --require-tradingview-cert: the three cert snippets, and novalgo.conf as shipped plus four
# include lines: the maps at http level (before the upstream), the certificate request in
# the 443 server (after its key), the check in both /webhook locations (after the allowlist).
require_tradingview_cert() {
  local site="$NGINX/sites-available/novalgo.conf" name
  for name in novalgo-tradingview-cert novalgo-tradingview-cert-server novalgo-tradingview-cert-check; do
    install -m 0644 "$SOURCE/deploy/nginx/snippets/$name.conf" "$NGINX/snippets/"
  done
  if [ "$TV_CA_BUNDLE" != "$SYSTEM_CA_BUNDLE" ]; then
    sed -i "s|^ssl_client_certificate .*;\$|ssl_client_certificate $TV_CA_BUNDLE;|" \
      "$NGINX/snippets/novalgo-tradingview-cert-server.conf"
  fi
  sed -i \
    -e 's|^upstream novalgo_app {$|include snippets/novalgo-tradingview-cert.conf;\n\n&|' \
    -e 's|^\( *\)ssl_certificate_key .*;$|&\n\1include snippets/novalgo-tradingview-cert-server.conf;|' \
    -e 's|^\( *\)include snippets/novalgo-tradingview\.conf;$|&\n\1include snippets/novalgo-tradingview-cert-check.conf;|' \
    "$site"
  # Each include where it belongs, or no site at all: a half-applied opt-in would let
  # webhooks through without the check.
  if [ "$(grep -c 'include snippets/novalgo-tradingview-cert\.conf;' "$site")" != 1 ] \
    || [ "$(grep -c 'include snippets/novalgo-tradingview-cert-server\.conf;' "$site")" != 1 ] \
    || [ "$(grep -c 'include snippets/novalgo-tradingview-cert-check\.conf;' "$site")" != 2 ]; then
    rm -f "$site"
    die "deploy/nginx/novalgo.conf no longer has the lines --require-tradingview-cert adds to"
  fi
}

# Without the flag, nothing of it stays behind (the site no longer includes these).
drop_tradingview_cert() {
  rm -f "$NGINX/snippets/novalgo-tradingview-cert.conf" "$NGINX/snippets/novalgo-tradingview-cert-server.conf" \
    "$NGINX/snippets/novalgo-tradingview-cert-check.conf"
}

next_steps() {
  local base="http://127.0.0.1:8000"
  if [ "$PORT80" = yes ]; then base="http://<this server's address>"; fi
  if [ -n "$DOMAIN" ]; then base="https://$DOMAIN"; fi
  cat <<EOF

NovAlgo is installed.
  Settings:  $ENV_FILE   (then: systemctl restart ${UNIT%.service})
  Secret:    sudo cat /var/lib/novalgo/webhook_secret   (unless you set NOVALGO_WEBHOOK_SECRET)
  Webhook:   $base/webhook
  Health:    curl -s $base/health
  Logs:      journalctl -u ${UNIT%.service} -f
See docs/DEPLOY.md for the Google Sheet, Alpaca keys and the firewall.
EOF
}

do_install() {
  install_packages
  create_user
  create_directories
  copy_code
  build_venv
  install_env_file
  generate_webhook_secret
  install_units
  install_cron
  start_service
  if [ -n "$DOMAIN" ]; then install_nginx_site; fi
  next_steps
}

do_uninstall() {
  say "stopping and removing NovAlgo"
  if [ -n "$ROOT" ] || command -v systemctl >/dev/null 2>&1; then
    run systemctl disable --now "$UNIT" "$PORT80_UNIT" || true
  fi
  rm -f "$UNIT_DIR/$UNIT" "$UNIT_DIR/$PORT80_UNIT" "$CRON_FILE"
  run systemctl daemon-reload
  if [ -e "$NGINX/sites-available/novalgo.conf" ]; then
    rm -f "$NGINX/sites-enabled/novalgo.conf" "$NGINX/sites-available/novalgo.conf" \
      "$NGINX/snippets/novalgo-common.conf" "$NGINX/snippets/novalgo-tradingview.conf"
    drop_tradingview_cert
    run systemctl try-reload-or-restart nginx
    say "the certificate stays with certbot (certbot delete removes it)"
  fi
  rm -rf "$OPT"
  if [ "$PURGE" = yes ]; then
    rm -rf "$ETC" "$DATA" "$NGINX/snippets/novalgo-owner.conf"
    if [ -n "$ROOT" ] || id -u "$APP_USER" >/dev/null 2>&1; then
      run userdel "$APP_USER"
    fi
    say "removed the settings, the journal and the user too"
  else
    say "kept your settings ($ENV_FILE) and data ($DATA); --purge removes them"
  fi
}

if [ "$ACTION" = install ]; then
  do_install
else
  do_uninstall
fi
