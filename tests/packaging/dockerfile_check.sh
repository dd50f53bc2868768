#!/usr/bin/env bash
# The Dockerfile cannot be built here (no daemon, no network), so this checks
# what would break it, against the binary this build made:
#   runtime stage: every shared library the binary loads comes from a package
#     it installs, from one of their dependencies, or from the base image;
#   build stage: every library the binary links directly has its -dev package
#     there (a package that depends on the library's package).
# Package facts come from dpkg's database of this machine (Debian 12, like the image).
# Usage: dockerfile_check.sh DOCKERFILE BINARY
set -euo pipefail
dockerfile="$1" binary="$2"
fail=0
problem() { echo "FAIL: $*"; fail=1; }

# The packages of the Nth `apt-get install` in the Dockerfile (1: build stage,
# 2: runtime): its words after "install", up to the "&&" that ends the command.
stage_packages() {
  awk -v want="$1" '
    { for (i = 1; i <= NF; i++) {
        if ($i == "install" && $(i - 1) ~ /apt-get$/) { n++; on = (n == want); continue }
        if ($i == "&&" || $i == ";") on = 0
        if (on && $i ~ /^[a-z0-9][a-z0-9.+-]+$/) print $i
    } }' "$dockerfile" | sort -u
}
build_packages="$(stage_packages 1)"
runtime_packages="$(stage_packages 2)"
[[ -n "$build_packages" && -n "$runtime_packages" ]] || { echo "FAIL: no apt-get install found in both stages"; exit 1; }

# Every installed package's Depends and Pre-Depends, read once: "a (>= 1) | b, c:any" -> "a b c".
declare -A depends_of=()
while IFS=$'\t' read -r package deps; do
  depends_of[$package]="$deps"
done < <(dpkg-query -W -f='${Package}\t${Depends}, ${Pre-Depends}\n' |
         sed -E 's/\([^)]*\)//g; s/:any//g; s/[,|]/ /g; s/ +/ /g')

# The packages given and everything they depend on, followed to the end.
closure() {
  local -A seen=()
  local queue=("$@") p
  while ((${#queue[@]})); do
    p="${queue[-1]}"; unset 'queue[-1]'
    [[ -n "${seen[$p]:-}" ]] && continue
    seen[$p]=1
    queue+=(${depends_of[$p]:-})
  done
  printf '%s\n' "${!seen[@]}" | sort -u
}

# debian:bookworm-slim: the "required" packages and apt with what it needs.
required="$(dpkg-query -W -f='${Package} ${Priority}\n' | awk '$2 == "required" {print $1}')"
base="$(closure apt $required)"
runtime="$(closure $runtime_packages)"
available="$(sort -u <<<"$base"$'\n'"$runtime")"

# The libraries the binary loads (name, path), and which package each comes
# from: one dpkg -S for all, as it reads dpkg's whole file list each time.
# With merged /usr, dpkg may know a library under /lib or under /usr/lib.
# A sanitizer build links its runtime; the image's Release build does not.
sanitizer_runtime='^lib(a|ub|t|l|hwa)san\.so'
loaded="$(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | grep -vE "$sanitizer_runtime")"
declare -A package_at=()
asked=()
while read -r _ path; do
  for variant in "$path" "$(readlink -f "$path")"; do asked+=("${variant#/usr}" "/usr${variant#/usr}"); done
done <<<"$loaded"
while read -r owner path; do
  package_at[$path]="${owner%%:*}"
done < <(dpkg -S "${asked[@]}" 2>/dev/null | sed -E 's/^([^ ]+):? (.*)$/\1 \2/' | sed -E 's/, [^ ]+//')
package_of() {
  local variant
  for variant in "$1" "$(readlink -f "$1")"; do
    for candidate in "${variant#/usr}" "/usr${variant#/usr}"; do
      [[ -n "${package_at[$candidate]:-}" ]] && { echo "${package_at[$candidate]}"; return 0; }
    done
  done
}

echo "runtime stage installs: $(tr '\n' ' ' <<<"$runtime_packages")"
while read -r lib path; do
  [[ -n "$path" ]] || continue
  pkg="$(package_of "$path")"
  [[ -n "$pkg" ]] || { problem "$lib ($path) belongs to no package"; continue; }
  grep -qxF "$pkg" <<<"$available" && echo "ok: $lib from $pkg" \
    || problem "$lib comes from $pkg, which the runtime stage does not install (add it to the second apt-get install)"
done <<<"$loaded"

echo "build stage installs: $(tr '\n' ' ' <<<"$build_packages")"
while read -r lib; do
  path="$(awk -v l="$lib" '$1 == l {print $2}' <<<"$loaded")"
  pkg="$(package_of "$path")"
  grep -qxF "$pkg" <<<"$base" && continue  # libc, libstdc++: the compiler brings their headers
  dev=""
  for candidate in $build_packages; do
    if [[ " ${depends_of[$candidate]:-} " == *" $pkg "* ]]; then
      dev="$candidate"; break
    fi
  done
  [[ -n "$dev" ]] && echo "ok: $lib ($pkg) built against $dev" \
    || problem "$lib ($pkg) is linked, but no package of the build stage depends on $pkg (its -dev package is missing)"
done < <(readelf -d "$binary" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p' | grep -vE "$sanitizer_runtime")

exit "$fail"
