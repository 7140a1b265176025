#!/usr/bin/env bash
# Coverage-guided fuzzing of CoolAmqp's parsers with AFL++ and SharpFuzz.
#
#   tools/fuzz.sh [SECONDS]    fuzz for SECONDS (default 600), then fold new inputs into the corpus
#
# Installs Debian's afl++ when it is missing, restores the sharpfuzz local tool, builds tests/fuzz/CoolAmqp.Fuzz into
# a work dir, instruments its copy of CoolAmqp.dll, and runs afl-fuzz over tests/fuzz/corpus. Afterwards the queue is
# minimised with afl-cmin into tests/fuzz/corpus (the test command replays it), and any crash is copied to
# tests/fuzz/crashes/ and listed: each one must become a regression test (tests/CoolAmqp.Tests/Framing/FuzzCorpusTests.cs).
# Work files live under $COOLAMQP_FUZZ_WORK (default artifacts/fuzz; afl-cmin refuses to work under /tmp).
set -euo pipefail

SECONDS_TO_RUN=${1:-600}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${COOLAMQP_FUZZ_WORK:-$ROOT/artifacts/fuzz}
CORPUS="$ROOT/tests/fuzz/corpus"
CRASHES="$ROOT/tests/fuzz/crashes"

log() { printf 'fuzz: %s\n' "$*" >&2; }

if ! command -v afl-fuzz >/dev/null 2>&1; then
  log "installing afl++ from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq afl++ >&2 || { apt-get update -qq >&2 && apt-get install -y -qq afl++ >&2; }
fi

cd "$ROOT"
# afl-cmin wants the target as a path, not a name on the PATH.
DOTNET=$(readlink -f "$(command -v dotnet)")
dotnet tool restore >/dev/null
rm -rf "$WORK"
mkdir -p "$WORK"
log "building the harness"
dotnet build tests/fuzz/CoolAmqp.Fuzz -c Release -o "$WORK/bin" -nologo -v q >&2
log "instrumenting CoolAmqp.dll"
dotnet sharpfuzz "$WORK/bin/CoolAmqp.dll" >&2

# The target is dotnet, which AFL++ cannot see instrumented: SharpFuzz reports coverage through AFL's shared memory.
# No core dumps are configured in a container, and the CPU governor is not ours to set.
export AFL_SKIP_BIN_CHECK=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
log "fuzzing for $SECONDS_TO_RUN s"
afl-fuzz -i "$CORPUS" -o "$WORK/findings" -t 10000 -m none -V "$SECONDS_TO_RUN" -- "$DOTNET" "$WORK/bin/CoolAmqp.Fuzz.dll" >"$WORK/afl.log" 2>&1 || {
  tail -30 "$WORK/afl.log" >&2
  exit 1
}
grep -E "execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|bitmap_cvg|run_time" "$WORK/findings/default/fuzzer_stats" | tee "$WORK/stats.txt" >&2

log "minimising the corpus"
afl-cmin -i "$WORK/findings/default/queue" -o "$WORK/cmin" -t 10000 -m none -- "$DOTNET" "$WORK/bin/CoolAmqp.Fuzz.dll" >"$WORK/cmin.log" 2>&1 || {
  tail -20 "$WORK/cmin.log" >&2
  exit 1
}
# Kept names: a content hash, so re-running does not rename what is already committed.
find "$CORPUS" -type f -delete
for input in "$WORK"/cmin/*; do
  cp "$input" "$CORPUS/$(sha1sum "$input" | cut -c1-16)"
done
log "corpus: $(find "$CORPUS" -type f | wc -l) inputs"

found=$(find "$WORK/findings/default/crashes" "$WORK/findings/default/hangs" -type f ! -name README.txt 2>/dev/null | wc -l)
if [ "$found" -gt 0 ]; then
  mkdir -p "$CRASHES"
  for input in $(find "$WORK/findings/default/crashes" "$WORK/findings/default/hangs" -type f ! -name README.txt); do
    name="$(basename "$(dirname "$input")")-$(sha1sum "$input" | cut -c1-16)"
    cp "$input" "$CRASHES/$name"
    log "found: $CRASHES/$name: $(dotnet "$WORK/bin/CoolAmqp.Fuzz.dll" "$input" 2>&1 | head -3 | tr '\n' ' ')"
  done
  exit 2
fi
log "no crashes, no hangs"
