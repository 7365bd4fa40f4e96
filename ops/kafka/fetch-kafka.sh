#!/usr/bin/env bash
# Resolves the jars of the single-node Kafka broker (src/kafka/local-broker.ts: `npm run kafka:local`
# and the tests' broker) from Maven Central, once, into a cache that survives between runs:
#   ${VIGIE_CACHE_DIR:-$HOME/.cache/vigie}/kafka-<version>-<pom digest>/libs
# Prints that directory as the last line of stdout; everything else goes to stderr.
# The version is the pom's kafka.version unless VIGIE_KAFKA_VERSION says otherwise.
# Used by .ci/run (to fetch before the tests) and by local-broker.ts (one place for the mvn command).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="$here/pom.xml"
version="${VIGIE_KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom" | head -n1)}"
[ -n "$version" ] || { echo "fetch-kafka: no kafka.version in $pom" >&2; exit 1; }

cache="${VIGIE_CACHE_DIR:-${HOME:-/tmp}/.cache/vigie}"
digest="$(sha256sum "$pom" | cut -d' ' -f1)"
# One folder per pom content: checkouts with different poms share the cache without replacing the jars
# under each other's running brokers.
base="$cache/kafka-$version-${digest:0:12}"
libs="$base/libs"
marker="$libs/.complete"
stamp="$version $digest"

complete() { [ -f "$marker" ] && [ "$(cat "$marker")" = "$stamp" ]; }

if complete; then
  echo "$libs"
  exit 0
fi

command -v mvn >/dev/null || { echo "fetch-kafka: mvn is not installed (apt-get install maven)" >&2; exit 1; }
mkdir -p "$base"
# One resolver at a time (the suite and a benchmark may start together); the others wait, then find
# the marker.
exec 9>"$base/.lock"
flock 9
if complete; then
  echo "$libs"
  exit 0
fi

start=$(date +%s)
echo "fetch-kafka: resolving org.apache.kafka:kafka_2.13:$version into $libs" >&2
tmp="$(mktemp -d "$base/libs.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
mvn -q -B -Dstyle.color=never -f "$pom" \
  -Dkafka.version="$version" \
  dependency:copy-dependencies \
  -DincludeScope=runtime \
  -DoutputDirectory="$tmp" >&2
ls "$tmp"/kafka_2.13-"$version".jar >/dev/null
echo "$stamp" > "$tmp/.complete"
rm -rf "$libs"
mv "$tmp" "$libs"
trap - EXIT
echo "fetch-kafka: $(ls "$libs" | wc -l) jars in $(( $(date +%s) - start ))s" >&2
echo "$libs"
