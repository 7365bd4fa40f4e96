package dev.vigie.peer;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.state.WindowStore;

/**
 * beneficiaries-1h: distinct beneficiaries of a customer in the tumbling hour [start, start + 1h)
 * (aligned on the epoch, end exclusive); the window fires when the watermark W reaches its end
 * (W >= end) and alerts when it holds 6 or more. An event whose window has fired already is late and
 * ignored. Cooldown 15m (Vigie's default; windows of a key are an hour apart, so it never suppresses one).
 *
 * <p>Stores: {@code beneficiaries-seen}, a window store of (customer, beneficiary) per hour (RocksDB
 * segments dropped after two hours, so fired hours need no deletes); {@code beneficiaries-open}, the
 * distinct count of each open window under (end, customer), so that the due ones are a range scan;
 * {@code beneficiaries-cooldown}, customer -> end of the cooldown.
 */
public final class BeneficiariesHour {
  static final String NAME = "beneficiaries-1h";
  static final long SIZE = Duration.ofHours(1).toMillis();
  static final int VALUE = 6;
  static final String SEEN = "beneficiaries-seen";
  static final String OPEN = "beneficiaries-open";
  static final String COOLDOWNS = "beneficiaries-cooldown";
  static final long COOLDOWN = Duration.ofMinutes(15).toMillis();
  private static final byte[] PRESENT = {1};

  private WindowStore<Bytes, byte[]> seen;
  private KeyValueStore<Bytes, Integer> open;
  private KeyValueStore<String, Long> cooldowns;

  static List<StoreBuilder<?>> stores() {
    return List.of(
        Stores.windowStoreBuilder(Stores.persistentWindowStore(SEEN, Duration.ofMillis(2 * SIZE), Duration.ofMillis(SIZE), false),
            Serdes.Bytes(), Serdes.ByteArray()),
        PeerStores.persistent(OPEN, Serdes.Bytes(), Serdes.Integer()),
        PeerStores.persistent(COOLDOWNS, Serdes.String(), Serdes.Long()));
  }

  void init(ProcessorContext<String, String> context) {
    seen = context.getStateStore(SEEN);
    open = context.getStateStore(OPEN);
    cooldowns = context.getStateStore(COOLDOWNS);
  }

  /** Count `p` in its window unless the watermark `w` has passed that window's end. */
  void add(Payment p, long w) {
    if (p.beneficiary() == null) return;
    long start = Math.floorDiv(p.ts(), SIZE) * SIZE;
    long end = start + SIZE;
    if (w >= end) return;
    Bytes k = Keys.customerString(p.customer(), p.beneficiary());
    if (seen.fetch(k, start) != null) return;
    seen.put(k, PRESENT, start);
    Bytes window = Keys.longString(end, p.customer());
    Integer n = open.get(window);
    open.put(window, n == null ? 1 : n + 1);
  }

  /** Fire the windows whose end is at or before `w` (those at or before `before`, the previous watermark, have been). */
  void fire(long before, long w, List<Alert> out) {
    List<KeyValue<Bytes, Integer>> due = new ArrayList<>();
    try (KeyValueIterator<Bytes, Integer> it = open.range(Keys.longOnly(Math.max(0, before + 1)), Keys.longOnly(w + 1))) {
      while (it.hasNext()) due.add(it.next());
    }
    for (KeyValue<Bytes, Integer> kv : due) {
      open.delete(kv.key);
      byte[] b = kv.key.get();
      long end = ByteBuffer.wrap(b).getLong();
      String customer = new String(b, 8, b.length - 8, StandardCharsets.UTF_8);
      if (kv.value >= VALUE && open(customer, end)) out.add(new Alert(NAME, customer, (end - SIZE) + "-" + end, end));
    }
  }

  private boolean open(String customer, long t) {
    Long until = cooldowns.get(customer);
    long next = Cooldowns.open(until == null ? Cooldowns.NONE : until, t, COOLDOWN);
    if (next == Cooldowns.NONE) return false;
    cooldowns.put(customer, next);
    return true;
  }
}
