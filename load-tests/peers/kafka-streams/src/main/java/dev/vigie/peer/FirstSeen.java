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

/**
 * new-device: a device the customer has not used in [t - 30d, t) before this event, once the customer
 * has 5 earlier events. A customer idle for more than 30 days starts afresh (history included). At most
 * 1000 devices per customer, least recently used forgotten first. Cooldown 15m (Vigie's default).
 *
 * <p>Three stores, so that a payment reads and writes a few small values whatever the number of devices:
 * <ul>
 *   <li>{@code new-device-customer}: customer -> events seen, time of the last one, devices kept, a lower
 *       bound of their last uses, the last use number given, the end of the cooldown (40 bytes);</li>
 *   <li>{@code new-device-seen}: (customer, device) -> time and number of its last use (16 bytes);</li>
 *   <li>{@code new-device-lru}: (customer, time, use number) -> device: the devices in the order of their
 *       last use, so that those past the lookback, or the least recently used one, are a range scan.</li>
 * </ul>
 */
public final class FirstSeen implements Detector {
  static final String NAME = "new-device";
  static final long LOOKBACK = Duration.ofDays(30).toMillis();
  static final int MIN_HISTORY = 5;
  static final int MAX_VALUES = 1000;
  static final String CUSTOMERS = "new-device-customer";
  static final String SEEN = "new-device-seen";
  static final String LRU = "new-device-lru";
  static final long COOLDOWN = Duration.ofMinutes(15).toMillis();

  private KeyValueStore<String, byte[]> customers;
  private KeyValueStore<Bytes, byte[]> seen;
  private KeyValueStore<Bytes, byte[]> lru;
  /** Last use of the last device forgotten. */
  private long forgotten;

  static List<StoreBuilder<?>> stores() {
    return List.of(PeerStores.persistent(CUSTOMERS, Serdes.String(), Serdes.ByteArray()),
        PeerStores.persistentUnique(SEEN, Serdes.Bytes(), Serdes.ByteArray()),
        PeerStores.persistentUnique(LRU, Serdes.Bytes(), Serdes.ByteArray()));
  }

  @Override
  public void init(ProcessorContext<String, String> context) {
    customers = context.getStateStore(CUSTOMERS);
    seen = context.getStateStore(SEEN);
    lru = context.getStateStore(LRU);
  }

  @Override
  public void judge(Payment p, List<Alert> out) {
    String device = p.device();
    if (device == null) return;
    String customer = p.customer();
    long t = p.ts();
    long from = t - LOOKBACK;
    int history = 0;
    long last = Long.MIN_VALUE;
    int kept = 0;
    long oldest = Long.MAX_VALUE;
    long uses = 0;
    long until = Cooldowns.NONE;
    byte[] old = customers.get(customer);
    if (old != null) {
      ByteBuffer b = ByteBuffer.wrap(old);
      history = b.getInt();
      last = b.getLong();
      kept = b.getInt();
      oldest = b.getLong();
      uses = b.getLong();
      until = b.getLong();
    }
    if (last < from) history = 0;
    if (kept > 0 && oldest < from) {
      kept -= forget(customer, oldest, from - 1, Integer.MAX_VALUE);
      oldest = from;
    }
    Bytes seenKey = Keys.customerString(customer, device);
    byte[] prev = seen.get(seenKey);
    boolean isNew = prev == null;
    if (isNew) {
      kept++;
    } else {
      ByteBuffer b = ByteBuffer.wrap(prev);
      lru.delete(Keys.customerLongs(customer, b.getLong(), b.getLong()));
    }
    uses++;
    lru.put(Keys.customerLongs(customer, t, uses), Keys.utf8(device));
    seen.put(seenKey, ByteBuffer.allocate(16).putLong(t).putLong(uses).array());
    oldest = Math.min(oldest, t);
    if (kept > MAX_VALUES) {
      kept -= forget(customer, oldest, Long.MAX_VALUE, kept - MAX_VALUES);
      oldest = Math.max(oldest, forgotten);
    }
    if (history >= MIN_HISTORY && isNew) {
      long next = Cooldowns.open(until, t, COOLDOWN);
      if (next != Cooldowns.NONE) {
        until = next;
        out.add(new Alert(NAME, customer, p.id(), t));
      }
    }
    customers.put(customer, ByteBuffer.allocate(40).putInt(history + 1).putLong(t).putInt(kept).putLong(oldest).putLong(uses).putLong(until).array());
  }

  /**
   * Forget the customer's least recently used devices last used in [fromTime, toTime], at most `max`;
   * returns how many. `fromTime` is a lower bound of their last uses: the scan starts there, past the
   * entries deleted since, which RocksDB still steps over until it compacts them.
   */
  private int forget(String customer, long fromTime, long toTime, int max) {
    List<KeyValue<Bytes, byte[]>> gone = new ArrayList<>();
    try (KeyValueIterator<Bytes, byte[]> it = lru.range(Keys.customerLongs(customer, fromTime, 0), Keys.customerLongs(customer, toTime, Long.MAX_VALUE))) {
      while (it.hasNext() && gone.size() < max) gone.add(it.next());
    }
    for (KeyValue<Bytes, byte[]> kv : gone) {
      forgotten = ByteBuffer.wrap(kv.key.get(), kv.key.get().length - 16, 8).getLong();
      lru.delete(kv.key);
      seen.delete(Keys.customerString(customer, new String(kv.value, StandardCharsets.UTF_8)));
    }
    return gone.size();
  }
}
