# shellcheck shell=bash
# Step bookkeeping shared by the bash installer builders (sourced, not run).
#
# Each builder calls `steps_init STATE_DIR` once, then wraps every step in
#   if begin_step "Name"; then ...; end_step; fi
# `begin_step` prints the `::step:: Name` marker the console turns into a step list. A step that
# finishes is recorded in STATE_DIR/steps.done; with --resume (RESUME=1) a recorded step is
# skipped, so a run continues from the step that failed. A run without --resume starts over.
# In a dry run (DRY_RUN=1) nothing is read or written.

steps_init() {
  STEPS_DIR="$1"
  STEPS_FILE="$STEPS_DIR/steps.done"
  CURRENT_STEP=""
  if [ "${DRY_RUN:-0}" -eq 1 ]; then
    return 0
  fi
  mkdir -p "$STEPS_DIR"
  if [ "${RESUME:-0}" -eq 0 ]; then
    rm -f "$STEPS_FILE"
    : > "$STEPS_FILE"
  elif [ -s "$STEPS_FILE" ]; then
    echo "resuming: $(wc -l < "$STEPS_FILE" | tr -d ' ') step(s) done in an earlier run will be skipped"
  else
    echo "resuming: no earlier progress recorded in $STEPS_FILE; running every step"
  fi
}

# Starts a step; returns 1 (skip it) when --resume and an earlier run finished it.
begin_step() {
  CURRENT_STEP="$1"
  if [ "${DRY_RUN:-0}" -eq 0 ] && [ "${RESUME:-0}" -eq 1 ] && [ -f "$STEPS_FILE" ] \
      && grep -qxF -- "$1" "$STEPS_FILE"; then
    echo "skip: $1 (done in an earlier run)"
    return 1
  fi
  echo "::step:: $1"
}

# Records the current step as done.
end_step() {
  if [ "${DRY_RUN:-0}" -eq 0 ]; then
    printf '%s\n' "$CURRENT_STEP" >> "$STEPS_FILE"
  fi
}

# Saves a small value (e.g. a notarization submission id) as soon as it is known.
state_put() {
  if [ "${DRY_RUN:-0}" -eq 0 ]; then
    printf '%s\n' "$2" > "$STEPS_DIR/$1.tmp"
    mv -f "$STEPS_DIR/$1.tmp" "$STEPS_DIR/$1"
  fi
}

# Prints a saved value, or nothing.
state_get() {
  if [ "${DRY_RUN:-0}" -eq 0 ] && [ -f "$STEPS_DIR/$1" ]; then
    head -n1 "$STEPS_DIR/$1"
  fi
}

state_clear() {
  if [ "${DRY_RUN:-0}" -eq 0 ]; then
    rm -f "$STEPS_DIR/$1"
  fi
}

# Runs a command, or prints it (shell-quoted) in a dry run. Secrets never appear in arguments of
# a dry run: callers pass a `$NAME` placeholder instead.
run() {
  if [ "${DRY_RUN:-0}" -eq 1 ]; then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

die() { echo "error: $*" >&2; exit 2; }

# Fails with one line naming the tool and how to get it.
need_tool() {
  command -v "$1" >/dev/null 2>&1 || die "$1 not found: $2"
}

# Fails with one line naming the variable (never its value).
need_env() {
  [ -n "${!1:-}" ] || die "$1 is not set: $2"
}
