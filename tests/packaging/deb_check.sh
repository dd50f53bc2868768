#!/usr/bin/env bash
# Checks the claude-nvidia-proxy .deb that cpack wrote (tests/CMakeLists.txt).
# Usage: deb_check.sh DEB_DIR VERSION contents|runs|control
set -euo pipefail
deb_dir="$1" version="$2" check="$3"
deb="$deb_dir/claude-nvidia-proxy_${version}_$(dpkg --print-architecture).deb"
[[ -f "$deb" ]] || { echo "no $deb (did the cpack test run?)"; ls "$deb_dir" || true; exit 1; }

fail() { echo "FAIL: $*"; exit 1; }
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

case "$check" in
  contents)
    dpkg-deb -c "$deb" | awk '{print $1, $2, $NF}' > "$scratch/list"
    cat "$scratch/list"
    while read -r mode path; do
      grep -qxF -- "$mode root/root ./$path" "$scratch/list" || fail "$path is not in the package as $mode root/root"
    done <<'WANTED'
-rwxr-xr-x usr/bin/claude-nvidia-proxy
-rw-r--r-- usr/lib/systemd/system/claude-nvidia-proxy.service
-rw-r--r-- usr/lib/sysusers.d/claude-nvidia-proxy.conf
-rw-r--r-- etc/claude-nvidia-proxy/config.json
-rw------- etc/claude-nvidia-proxy/env
-rw-r--r-- usr/share/doc/claude-nvidia-proxy/README.md
-rw-r--r-- usr/share/doc/claude-nvidia-proxy/LICENSE
-rw-r--r-- usr/share/doc/claude-nvidia-proxy/deploy.md
-rw-r--r-- usr/share/doc/claude-nvidia-proxy/configuration.md
-rw-r--r-- usr/share/doc/claude-nvidia-proxy/examples/config.example.json
WANTED
    # The server's package, not the library's.
    ! grep -E '\./usr/(include|share/cmake)/' "$scratch/list" || fail "msgbridge's headers or CMake files are in the server package"
    ;;
  runs)
    dpkg-deb -x "$deb" "$scratch/root"
    out="$("$scratch/root/usr/bin/claude-nvidia-proxy" --version)"
    [[ "$out" == "claude-nvidia-proxy $version" ]] || fail "--version printed '$out'"
    # The packaged configuration starts (port 0: a free one) and holds no key.
    ADDR=127.0.0.1:0 timeout -s TERM 2 "$scratch/root/usr/bin/claude-nvidia-proxy" \
        --config "$scratch/root/etc/claude-nvidia-proxy/config.json" > "$scratch/log" 2>&1 || true
    cat "$scratch/log"
    grep -q "listening on 127.0.0.1:" "$scratch/log" || fail "the packaged config.json does not start the proxy"
    grep -q "no upstream keys configured" "$scratch/log" || fail "the packaged config.json carries keys"
    # The unit starts the packaged binary on the packaged configuration.
    unit="$scratch/root/usr/lib/systemd/system/claude-nvidia-proxy.service"
    grep -qx 'ExecStart=/usr/bin/claude-nvidia-proxy --config /etc/claude-nvidia-proxy/config.json' "$unit" ||
        fail "the unit's ExecStart"
    if command -v systemd-analyze >/dev/null; then
      sed "s|^ExecStart=/usr/bin/|ExecStart=$scratch/root/usr/bin/|" "$unit" > "$scratch/claude-nvidia-proxy.service"
      systemd-analyze verify "$scratch/claude-nvidia-proxy.service" || fail "systemd-analyze verify"
    fi
    ;;
  control)
    dpkg-deb -I "$deb" | tee "$scratch/info"
    dpkg-deb -e "$deb" "$scratch/control"
    diff <(printf '%s\n' /etc/claude-nvidia-proxy/config.json /etc/claude-nvidia-proxy/env) \
         "$scratch/control/conffiles" || fail "conffiles"
    grep -q "^ Package: claude-nvidia-proxy$" "$scratch/info" || fail "Package"
    grep -q "^ Version: $version$" "$scratch/info" || fail "Version"
    grep -q "^ Depends: .*libcpp-httplib0.11" "$scratch/info" || fail "Depends lacks libcpp-httplib (dpkg-shlibdeps)"
    for script in postinst prerm postrm; do
      [[ -x "$scratch/control/$script" ]] || fail "$script is missing or not executable"
      sh -n "$scratch/control/$script" || fail "$script does not parse"
    done
    ;;
  *) fail "unknown check '$check'" ;;
esac
echo "ok: $check"
