#!/usr/bin/env bash
# The package test: builds the .deb from a build directory with cpack, checks its file list, its
# conffiles and its computed dependencies, runs lintian on it, unpacks it into a temporary root
# and runs the unpacked binary; then checks `cmake --install` into temporary prefixes, and that
# a second install keeps an edited config.
# Usage: test/package/test_package.sh BUILD_DIR SOURCE_DIR VERSION
set -euo pipefail
build_dir=$(realpath "$1")
source_dir=$(realpath "$2")
version=$3

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
pass() { echo "ok: $*"; }

# --- the package ----------------------------------------------------------------------------
if ! cpack --config "$build_dir/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1; then
  cat "$work/cpack.log" >&2
  echo "FAIL: cpack" >&2
  exit 1
fi
deb="$work/out/hoplite_${version}_$(dpkg --print-architecture).deb"
if [ ! -f "$deb" ]; then
  ls -l "$work/out" >&2
  echo "FAIL: cpack made no $(basename "$deb")" >&2
  exit 1
fi
pass "built $(basename "$deb")"

# Every regular file the package holds, and nothing else.
expected=(
  ./etc/hoplite/hoplite.json
  ./usr/bin/hoplite
  ./usr/lib/systemd/system/hoplite.service
  ./usr/share/doc/hoplite/changelog.gz
  ./usr/share/doc/hoplite/copyright
  ./usr/share/hoplite/hoplite.schema.json
  ./usr/share/man/man8/hoplite.8.gz
)
for example in "$source_dir"/conf/examples/*.json; do
  expected+=("./usr/share/hoplite/examples/$(basename "$example")")
done
printf '%s\n' "${expected[@]}" | sort >"$work/expected.txt"
dpkg-deb --fsys-tarfile "$deb" | tar -tv | awk '$1 ~ /^-/ { print $6 }' | sort >"$work/files.txt"
if diff -u "$work/expected.txt" "$work/files.txt"; then
  pass "file list (${#expected[@]} files)"
else
  fail "file list differs (- expected, + in the package)"
fi
if dpkg-deb --fsys-tarfile "$deb" | tar -tv ./usr/bin/hoplite | grep -q '^-rwxr-xr-x root/root'; then
  pass "/usr/bin/hoplite is 0755 root:root"
else
  fail "/usr/bin/hoplite mode or owner: $(dpkg-deb --fsys-tarfile "$deb" | tar -tv ./usr/bin/hoplite)"
fi

dpkg-deb -e "$deb" "$work/control"
if [ "$(cat "$work/control/conffiles")" = "/etc/hoplite/hoplite.json" ]; then
  pass "conffiles: /etc/hoplite/hoplite.json"
else
  fail "conffiles: $(cat "$work/control/conffiles" 2>&1)"
fi
depends=$(dpkg-deb -f "$deb" Depends)
for library in libc6 libuv1 libssl3 libsystemd0; do
  if [[ ", $depends," == *", $library "* || ", $depends," == *", $library,"* ]]; then
    pass "Depends names $library"
  else
    fail "Depends lacks $library: $depends"
  fi
done
if [ "$(dpkg-deb -f "$deb" Package Version Architecture | tr '\n' ' ')" = \
  "Package: hoplite Version: $version Architecture: $(dpkg --print-architecture) " ]; then
  pass "control: package, version, architecture"
else
  fail "control: $(dpkg-deb -f "$deb" Package Version Architecture | tr '\n' ' ')"
fi

# lintian runs as whoever runs the suite (root in CI), which it only warns about.
if lintian --fail-on error --tag-display-limit 0 "$deb" >"$work/lintian.txt" 2>&1; then
  pass "lintian: no error"
else
  fail "lintian reported errors"
fi
grep -E '^[EW]: ' "$work/lintian.txt" >&2 || true

# --- the unpacked binary, config and man page -------------------------------------------------
root="$work/root"
dpkg-deb -x "$deb" "$root"
if [ "$("$root/usr/bin/hoplite" --version)" = "hoplite $version" ]; then
  pass "unpacked --version: hoplite $version"
else
  fail "unpacked --version: $("$root/usr/bin/hoplite" --version 2>&1)"
fi
for config in "$root/etc/hoplite/hoplite.json" "$root"/usr/share/hoplite/examples/*.json; do
  if "$root/usr/bin/hoplite" --check -c "$config" >"$work/check.txt" 2>&1; then
    pass "unpacked --check ${config#"$root"}"
  else
    fail "unpacked --check ${config#"$root"}: $(cat "$work/check.txt")"
  fi
done
# A broken config: exit status 2 and the JSON path of the error, as the man page says.
sed 's/"client_idle"/"client_idel"/' "$root/etc/hoplite/hoplite.json" >"$work/broken.json"
set +e
"$root/usr/bin/hoplite" --check -c "$work/broken.json" >"$work/check.txt" 2>&1
status=$?
set -e
if [ "$status" -eq 2 ] && grep -q '/timeouts/client_idel' "$work/check.txt"; then
  pass "unpacked --check on a broken config: status 2, names /timeouts/client_idel"
else
  fail "unpacked --check on a broken config: status $status, $(cat "$work/check.txt")"
fi
# The man page renders without a groff warning and has the sections it promises.
if man --warnings -l "$root/usr/share/man/man8/hoplite.8.gz" >"$work/man.txt" 2>"$work/man-warnings.txt" &&
  [ ! -s "$work/man-warnings.txt" ]; then
  pass "man page renders without warnings"
else
  fail "man page: $(cat "$work/man-warnings.txt")"
fi
for section in SYNOPSIS OPTIONS SIGNALS FILES "EXIT STATUS"; do
  grep -q "^$section" "$work/man.txt" || fail "man page lacks $section"
done

# --- cmake --install -----------------------------------------------------------------------
cmake --install "$build_dir" --prefix "$work/local" >"$work/install.log" 2>&1 || {
  cat "$work/install.log" >&2
  fail "cmake --install --prefix"
}
for file in bin/hoplite lib/systemd/system/hoplite.service etc/hoplite/hoplite.json \
  share/hoplite/hoplite.schema.json share/man/man8/hoplite.8.gz; do
  [ -f "$work/local/$file" ] || fail "cmake --install put no $file under the prefix"
done
[ -x "$work/local/bin/hoplite" ] && pass "cmake --install --prefix: the layout under the prefix"
# With the prefix /usr, the config goes to /etc, as in the package.
DESTDIR="$work/staged" cmake --install "$build_dir" --prefix /usr >"$work/install.log" 2>&1 || {
  cat "$work/install.log" >&2
  fail "DESTDIR=... cmake --install --prefix /usr"
}
if [ -f "$work/staged/etc/hoplite/hoplite.json" ] && [ -x "$work/staged/usr/bin/hoplite" ]; then
  pass "cmake --install --prefix /usr: /etc/hoplite/hoplite.json and /usr/bin/hoplite"
else
  fail "cmake --install --prefix /usr: $(cd "$work/staged" && find . -type f | sort | tr '\n' ' ')"
fi
# An operator's edit survives a second install.
echo '{"edited": true}' >"$work/local/etc/hoplite/hoplite.json"
cmake --install "$build_dir" --prefix "$work/local" >"$work/install.log" 2>&1
if [ "$(cat "$work/local/etc/hoplite/hoplite.json")" = '{"edited": true}' ]; then
  pass "a second cmake --install keeps the edited config"
else
  fail "a second cmake --install replaced the edited config"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "package test: all passed"
