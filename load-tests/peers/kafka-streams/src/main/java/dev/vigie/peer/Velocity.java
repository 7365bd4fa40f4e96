package dev.vigie.peer;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.state.WindowStore;
import org.apache.kafka.streams.state.WindowStoreIterator;

/**
 * velocity-10m: 8 payments or more of a customer in [t - 10m, t] (both ends included, the event itself
 * counted). Cooldown 10m: after an alert at t, the key's signals before t + 10m are suppressed; the
 * first one at or after it raises an alert and opens a new cooldown.
 */
public final class Velocity implements Detector {
  static final String NAME = "velocity-10m";
  static final long LOOKBACK = Duration.ofMinutes(10).toMillis();
  static final long COOLDOWN = Duration.ofMinutes(10).toMillis();
  static final int VALUE = 8;
  static final String EVENTS = "velocity-events";
  static final String COOLDOWNS = "velocity-cooldown";

  private WindowStore<String, Integer> events;
  private KeyValueStore<String, Long> cooldowns;

  static List<StoreBuilder<?>> stores() {
    // One entry per event at its time; duplicates kept (several events at one millisecond). Retention
    // past the lookback: the store drops entries older than (latest time put - retention + 1).
    StoreBuilder<?> ev = Stores.windowStoreBuilder(
        Stores.inMemoryWindowStore(EVENTS, Duration.ofMillis(LOOKBACK + 60_000), Duration.ofMillis(1), true),
        Serdes.String(), Serdes.Integer());
    return List.of(ev, Cooldowns.builder(COOLDOWNS));
  }

  @Override
  public void init(ProcessorContext<String, String> context) {
    events = context.getStateStore(EVENTS);
    cooldowns = context.getStateStore(COOLDOWNS);
  }

  @Override
  public void judge(Payment p, List<Alert> out) {
    long t = p.ts();
    events.put(p.customer(), 1, t);
    int n = 0;
    try (WindowStoreIterator<Integer> it = events.fetch(p.customer(), Instant.ofEpochMilli(t - LOOKBACK), Instant.ofEpochMilli(t))) {
      while (it.hasNext()) {
        it.next();
        n++;
      }
    }
    if (n >= VALUE && Cooldowns.open(cooldowns, p.customer(), t, COOLDOWN)) out.add(new Alert(NAME, p.customer(), p.id(), t));
  }
}
