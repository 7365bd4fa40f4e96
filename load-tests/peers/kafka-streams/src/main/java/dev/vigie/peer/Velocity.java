package dev.vigie.peer;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;

/**
 * velocity-10m: 8 payments or more of a customer in [t - 10m, t] (both ends included, the event itself
 * counted). Cooldown 10m: after an alert at t, the key's signals before t + 10m are suppressed; the
 * first one at or after it raises an alert and opens a new cooldown. State per customer: the times of
 * its payments in the lookback, ascending (payments arrive in event-time order), as 8 bytes each.
 */
public final class Velocity implements Detector {
  static final String NAME = "velocity-10m";
  static final long LOOKBACK = Duration.ofMinutes(10).toMillis();
  static final long COOLDOWN = Duration.ofMinutes(10).toMillis();
  static final int VALUE = 8;
  /** Vigie's maxEventsPerKey: beyond it the oldest times are forgotten. */
  static final int MAX_EVENTS = 10_000;
  static final String EVENTS = "velocity-times";
  static final String COOLDOWNS = "velocity-cooldown";

  private KeyValueStore<String, long[]> events;
  private KeyValueStore<String, Long> cooldowns;

  static final Serde<long[]> TIMES = Serdes.serdeFrom(
      (Serializer<long[]>) (topic, v) -> {
        if (v == null) return null;
        ByteBuffer b = ByteBuffer.allocate(8 * v.length);
        for (long x : v) b.putLong(x);
        return b.array();
      },
      (Deserializer<long[]>) (topic, bytes) -> {
        if (bytes == null) return null;
        long[] v = new long[bytes.length / 8];
        ByteBuffer.wrap(bytes).asLongBuffer().get(v);
        return v;
      });

  static List<StoreBuilder<?>> stores() {
    return List.of(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(EVENTS), Serdes.String(), TIMES), Cooldowns.builder(COOLDOWNS));
  }

  @Override
  public void init(ProcessorContext<String, String> context) {
    events = context.getStateStore(EVENTS);
    cooldowns = context.getStateStore(COOLDOWNS);
  }

  @Override
  public void judge(Payment p, List<Alert> out) {
    long t = p.ts();
    long[] times = events.get(p.customer());
    if (times == null) times = new long[0];
    int head = 0;
    while (head < times.length && (times[head] < t - LOOKBACK || times.length - head + 1 > MAX_EVENTS)) head++;
    long[] next = Arrays.copyOfRange(times, head, times.length + 1);
    next[next.length - 1] = t;
    events.put(p.customer(), next);
    if (next.length >= VALUE && Cooldowns.open(cooldowns, p.customer(), t, COOLDOWN)) out.add(new Alert(NAME, p.customer(), p.id(), t));
  }
}
