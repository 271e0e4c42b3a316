#!/usr/bin/env bash
# Every C++ file of the project is clang-formatted (.clang-format at the top). Usage: check_format.sh SOURCE_DIR
set -euo pipefail
cd "$1"
unformatted=0
checked=0
while IFS= read -r -d '' file; do
  checked=$((checked + 1))
  if ! clang-format --dry-run -Werror "$file" >/dev/null 2>&1; then
    echo "not clang-formatted: $file (run: clang-format -i $file)"
    unformatted=$((unformatted + 1))
  fi
done < <(find conf parser policy proxy bench test \( -name '*.cc' -o -name '*.h' \) -print0 | sort -z)
echo "$((checked - unformatted)) passed, $unformatted failed"
[ "$unformatted" -eq 0 ] && [ "$checked" -gt 0 ]
