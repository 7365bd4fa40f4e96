package dev.vigie.peer;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.apache.kafka.streams.state.StoreBuilder;

/**
 * amount-outlier: log(amount) at least 5 robust standard deviations above the median of the customer's
 * last 50 log amounts (10 needed first), judged before the value joins them. Scale = MAD / 0.6745; when
 * the MAD is 0, the mean absolute deviation from the median * 1.253314; when that is 0 too, not judged.
 * A customer idle for 30 days starts afresh. Cooldown 15m (Vigie's default).
 */
public final class Outlier extends CustomerStateDetector<Outlier.State> {
  static final String NAME = "amount-outlier";
  static final int HISTORY = 50;
  static final int MIN_HISTORY = 10;
  static final double VALUE = 5;
  static final long FORGET_AFTER = Duration.ofDays(30).toMillis();
  static final String STORE = "outlier-history";
  static final String COOLDOWNS = "outlier-cooldown";
  static final long COOLDOWN = Duration.ofMinutes(15).toMillis();

  /** Time of the last judged event; the last log amounts, oldest first. */
  public static final class State {
    public long last;
    public double[] values = new double[0];
  }

  Outlier() {
    super(STORE, COOLDOWNS);
  }

  static List<StoreBuilder<?>> stores() {
    return stores(STORE, COOLDOWNS, JsonSerde.of(State.class));
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
    State st = store.get(p.customer());
    if (st == null || st.last < t - FORGET_AFTER) st = new State();
    st.last = t;
    double z = z(st.values, v);
    int n = st.values.length;
    double[] next = Arrays.copyOfRange(st.values, n >= HISTORY ? n - HISTORY + 1 : 0, n + 1);
    next[next.length - 1] = v;
    st.values = next;
    store.put(p.customer(), st);
    if (z >= VALUE && Cooldowns.open(cooldowns, p.customer(), t, COOLDOWN)) out.add(new Alert(NAME, p.customer(), p.id(), t));
  }
}
