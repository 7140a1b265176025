#!/usr/bin/env bash
# Brings runtime/PublicAPI.Unshipped.txt in line with the code after an intended change of the public API: builds the
# runtime, adds what RS0016 reports as undeclared and drops what RS0017 reports as gone, then rebuilds. Review the diff.
set -euo pipefail
cd "$(dirname "$0")/.."
file=runtime/PublicAPI.Unshipped.txt
log=$(mktemp)
dotnet build runtime -c Release --no-incremental >"$log" 2>&1 || true
python3 - "$file" "$log" <<'PY'
import re, sys
path, log = sys.argv[1], sys.argv[2]
lines = open(path).read().splitlines()
header, body = lines[:1], set(lines[1:])
text = open(log).read()
add = set(re.findall(r"RS0016: Symbol '(.*?)' is not part of the declared public API", text))
gone = set(re.findall(r"RS0017: Symbol '(.*?)' is part of the declared API", text))
body = (body | add) - gone
open(path, "w").write("\n".join(header + sorted(l for l in body if l)) + "\n")
print(f"{len(add)} added, {len(gone)} removed")
PY
rm -f "$log"
dotnet build runtime -c Release 2>&1 | grep -E "RS00(16|17)" && exit 1 || echo "public API files in line"
