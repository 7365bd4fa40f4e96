package dev.vigie.peer;

/**
 * Vigie's per-key cooldowns: a signal of a key at `t` raises an alert (and a cooldown until
 * t + cooldown opens) unless a cooldown still runs at t. Each detector keeps the end of its open
 * cooldown in the customer's value, {@link #NONE} when there is none.
 */
final class Cooldowns {
  private Cooldowns() {}

  static final long NONE = Long.MIN_VALUE;

  /** The cooldown end after a signal at `t`, or {@link #NONE} when the signal is suppressed. */
  static long open(long until, long t, long cooldown) {
    return until != NONE && t < until ? NONE : t + cooldown;
  }
}
