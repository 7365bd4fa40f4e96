package dev.vigie.peer;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;

/**
 * beneficiaries-1h: distinct beneficiaries of a customer in the tumbling hour [start, start + 1h)
 * (aligned on the epoch, end exclusive); the window fires when the watermark W reaches its end
 * (W >= end) and alerts when it holds 6 or more. An event whose window has fired already is late and
 * ignored. Cooldown 15m (Vigie's default; windows of a key are an hour apart, so it never suppresses one). Open windows are kept under (end, customer), so that the due ones are a range scan.
 */
public final class BeneficiariesHour {
  static final String NAME = "beneficiaries-1h";
  static final long SIZE = Duration.ofHours(1).toMillis();
  static final int VALUE = 6;
  static final String STORE = "beneficiaries-hour";
  static final String COOLDOWNS = "beneficiaries-cooldown";
  static final long COOLDOWN = Duration.ofMinutes(15).toMillis();

  /** One open window: its start and the distinct values seen. */
  public static final class State {
    public long start;
    public LinkedHashSet<String> values = new LinkedHashSet<>();
  }

  static final Serde<State> SERDE = BinarySerde.of(
      (st, out) -> {
        out.writeLong(st.start);
        out.writeInt(st.values.size());
        for (String v : st.values) out.writeUTF(v);
      },
      in -> {
        State st = new State();
        st.start = in.readLong();
        for (int n = in.readInt(); n > 0; n--) st.values.add(in.readUTF());
        return st;
      });

  private KeyValueStore<Bytes, State> store;
  private KeyValueStore<String, Long> cooldowns;

  static List<StoreBuilder<?>> stores() {
    return List.of(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(STORE), Serdes.Bytes(), SERDE),
        Cooldowns.builder(COOLDOWNS));
  }

  void init(ProcessorContext<String, String> context) {
    store = context.getStateStore(STORE);
    cooldowns = context.getStateStore(COOLDOWNS);
  }

  private static Bytes key(long end, String customer) {
    byte[] c = customer.getBytes(StandardCharsets.UTF_8);
    return Bytes.wrap(ByteBuffer.allocate(8 + c.length).putLong(end).put(c).array());
  }

  /** Count `p` in its window unless the watermark `w` has passed that window's end. */
  void add(Payment p, long w) {
    if (p.beneficiary() == null) return;
    long start = Math.floorDiv(p.ts(), SIZE) * SIZE;
    long end = start + SIZE;
    if (w >= end) return;
    Bytes k = key(end, p.customer());
    State st = store.get(k);
    if (st == null) {
      st = new State();
      st.start = start;
    }
    if (st.values.add(p.beneficiary())) store.put(k, st);
  }

  /** Fire the windows whose end is at or before `w`. */
  void fire(long w, List<Alert> out) {
    List<KeyValue<Bytes, State>> due = new ArrayList<>();
    Bytes from = Bytes.wrap(ByteBuffer.allocate(8).putLong(0).array());
    Bytes to = Bytes.wrap(ByteBuffer.allocate(8).putLong(w + 1).array());
    try (KeyValueIterator<Bytes, State> it = store.range(from, to)) {
      while (it.hasNext()) due.add(it.next());
    }
    for (KeyValue<Bytes, State> kv : due) {
      store.delete(kv.key);
      byte[] b = kv.key.get();
      long end = ByteBuffer.wrap(b).getLong();
      String customer = new String(b, 8, b.length - 8, StandardCharsets.UTF_8);
      if (kv.value.values.size() >= VALUE && Cooldowns.open(cooldowns, customer, end, COOLDOWN)) out.add(new Alert(NAME, customer, kv.value.start + "-" + end, end));
    }
  }
}
