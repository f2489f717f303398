# Counting swift-testing results in a saved `swift test` log (sourced by scripts/test.sh).
# swift-testing 6.3 prints one summary line, "✔ Test run with N tests in M suites passed after …",
# whose N counts started *and skipped* tests, and one line per skipped test:
#   ➜ Test name() skipped.
#   ➜ Test name() skipped: "reason"
# (a skipped suite prints "➜ Suite Name skipped…" plus one such line per test in it).

# N of the last summary line, 0 when there is none.
summary_count() {
  local n
  n=$(sed -nE 's/.*Test run with ([0-9]+) tests? .*passed.*/\1/p' "$1" | tail -n 1)
  echo "${n:-0}"
}

# The names of the skipped tests, one a line.
skipped_names() {
  sed -nE 's/^[^[:alnum:][:space:]]* ?Test (.+) skipped(\.|: ".*")$/\1/p' "$1"
}

skipped_count() { skipped_names "$1" | wc -l | tr -d ' '; }

# Tests that ran and passed: the summary count without the skipped ones.
ran_count() { echo $(( $(summary_count "$1") - $(skipped_count "$1") )); }
