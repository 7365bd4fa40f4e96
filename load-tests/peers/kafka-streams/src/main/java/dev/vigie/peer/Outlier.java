package dev.vigie.peer;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.apache.kafka.streams.state.StoreBuilder;

/**
 * amount-outlier: log(amount) at least 5 robust standard deviations above the median of the customer's
 * last 50 log amounts (10 needed first), judged before the value joins them. Scale = MAD / 0.6745; when
 * the MAD is 0, the mean absolute deviation from the median * 1.253314; when that is 0 too, not judged.
 * A customer idle for 30 days starts afresh. Cooldown 15m (Vigie's default). Stored per customer (at
 * most 416 bytes): the time of its last judged payment, the end of the cooldown, the last log amounts.
 */
public final class Outlier extends OneStoreDetector {
  static final String NAME = "amount-outlier";
  static final int HISTORY = 50;
  static final int MIN_HISTORY = 10;
  static final double VALUE = 5;
  static final long FORGET_AFTER = Duration.ofDays(30).toMillis();
  static final String STORE = "outlier";
  static final long COOLDOWN = Duration.ofMinutes(15).toMillis();

  Outlier() {
    super(STORE);
  }

  static List<StoreBuilder<?>> stores() {
    return storeNamed(STORE);
  }

  static double median(double[] sorted) {
    int m = sorted.length >> 1;
    return sorted.length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
  }

  /** z of x against the history, or NaN in warm-up or without spread. */
  static double z(double[] history, double x) {
    if (history.length < MIN_HISTORY) return Double.NaN;
    double[] sorted = history.clone();
    Arrays.sort(sorted);
    double expected = median(sorted);
    double[] dev = new double[sorted.length];
    for (int i = 0; i < sorted.length; i++) dev[i] = Math.abs(sorted[i] - expected);
    Arrays.sort(dev);
    double mad = median(dev);
    double scale;
    if (mad > 0) {
      scale = mad / 0.6745;
    } else {
      double sum = 0;
      for (double d : dev) sum += d;
      scale = (sum / dev.length) * 1.253314;
    }
    if (!(scale > 0)) return Double.NaN;
    return (x - expected) / scale;
  }

  @Override
  public void judge(Payment p, List<Alert> out) {
    double amount = p.amount();
    if (!Double.isFinite(amount) || !(amount > 0)) return;
    double v = StrictMath.log(amount);
    long t = p.ts();
    byte[] old = store.get(p.customer());
    long until = Cooldowns.NONE;
    double[] values = new double[0];
    if (old != null) {
      ByteBuffer b = ByteBuffer.wrap(old);
      long last = b.getLong();
      until = b.getLong();
      if (last >= t - FORGET_AFTER) {
        values = new double[b.remaining() / 8];
        b.asDoubleBuffer().get(values);
      }
    }
    if (z(values, v) >= VALUE) {
      long next = Cooldowns.open(until, t, COOLDOWN);
      if (next != Cooldowns.NONE) {
        until = next;
        out.add(new Alert(NAME, p.customer(), p.id(), t));
      }
    }
    int keep = Math.min(values.length, HISTORY - 1);
    ByteBuffer b = ByteBuffer.allocate(16 + 8 * (keep + 1)).putLong(t).putLong(until);
    for (int i = values.length - keep; i < values.length; i++) b.putDouble(values[i]);
    store.put(p.customer(), b.putDouble(v).array());
  }
}
