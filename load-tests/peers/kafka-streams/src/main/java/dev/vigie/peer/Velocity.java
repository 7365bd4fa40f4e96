package dev.vigie.peer;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import org.apache.kafka.streams.state.StoreBuilder;

/**
 * velocity-10m: 8 payments or more of a customer in [t - 10m, t] (both ends included, the event itself
 * counted). Cooldown 10m: after an alert at t, the key's signals before t + 10m are suppressed; the
 * first one at or after it raises an alert and opens a new cooldown.
 *
 * <p>Payments reach the detector in event-time order, so the rule holds at t exactly when the 7th
 * latest earlier payment is at or after t - 10m: the store keeps, per customer, the end of its cooldown
 * and the times of its last 7 payments (at most 64 bytes), whatever its rate.
 */
public final class Velocity extends OneStoreDetector {
  static final String NAME = "velocity-10m";
  static final long LOOKBACK = Duration.ofMinutes(10).toMillis();
  static final long COOLDOWN = Duration.ofMinutes(10).toMillis();
  static final int VALUE = 8;
  static final int KEPT = VALUE - 1;
  static final String STORE = "velocity";

  Velocity() {
    super(STORE);
  }

  static List<StoreBuilder<?>> stores() {
    return storeNamed(STORE);
  }

  @Override
  public void judge(Payment p, List<Alert> out) {
    long t = p.ts();
    byte[] old = store.get(p.customer());
    long until = Cooldowns.NONE;
    long[] times = new long[0];
    if (old != null) {
      ByteBuffer b = ByteBuffer.wrap(old);
      until = b.getLong();
      times = new long[b.remaining() / 8];
      b.asLongBuffer().get(times);
    }
    boolean met = times.length == KEPT && times[0] >= t - LOOKBACK;
    if (met) {
      long next = Cooldowns.open(until, t, COOLDOWN);
      if (next != Cooldowns.NONE) {
        until = next;
        out.add(new Alert(NAME, p.customer(), p.id(), t));
      }
    }
    int keep = Math.min(times.length, KEPT - 1);
    ByteBuffer b = ByteBuffer.allocate(8 * (keep + 2)).putLong(until);
    for (int i = times.length - keep; i < times.length; i++) b.putLong(times[i]);
    store.put(p.customer(), b.putLong(t).array());
  }
}
