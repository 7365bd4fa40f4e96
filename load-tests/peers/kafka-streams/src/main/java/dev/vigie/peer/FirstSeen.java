package dev.vigie.peer;

import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.streams.state.StoreBuilder;

/**
 * new-device: a device the customer has not used in [t - 30d, t) before this event, once the customer
 * has 5 earlier events. A customer idle for more than 30 days starts afresh (history included). At most
 * 1000 devices per customer, least recently used forgotten first. Cooldown 15m (Vigie's default).
 */
public final class FirstSeen extends CustomerStateDetector<FirstSeen.State> {
  static final String NAME = "new-device";
  static final long LOOKBACK = Duration.ofDays(30).toMillis();
  static final int MIN_HISTORY = 5;
  static final int MAX_VALUES = 1000;
  static final String STORE = "first-seen";
  static final String COOLDOWNS = "first-seen-cooldown";
  static final long COOLDOWN = Duration.ofMinutes(15).toMillis();

  /** Device -> time last used, least recently used first; events seen; time of the last event. */
  public static final class State {
    public LinkedHashMap<String, Long> values = new LinkedHashMap<>();
    public int history;
    public long last;
  }

  static final Serde<State> SERDE = BinarySerde.of(
      (st, out) -> {
        out.writeInt(st.history);
        out.writeLong(st.last);
        out.writeInt(st.values.size());
        for (Map.Entry<String, Long> e : st.values.entrySet()) {
          out.writeUTF(e.getKey());
          out.writeLong(e.getValue());
        }
      },
      in -> {
        State st = new State();
        st.history = in.readInt();
        st.last = in.readLong();
        for (int n = in.readInt(); n > 0; n--) st.values.put(in.readUTF(), in.readLong());
        return st;
      });

  FirstSeen() {
    super(STORE, COOLDOWNS);
  }

  static List<StoreBuilder<?>> stores() {
    return stores(STORE, COOLDOWNS, SERDE);
  }

  @Override
  public void judge(Payment p, List<Alert> out) {
    String value = p.device();
    if (value == null) return;
    long t = p.ts();
    long from = t - LOOKBACK;
    State st = store.get(p.customer());
    if (st == null || st.last < from) st = new State();
    Iterator<Map.Entry<String, Long>> it = st.values.entrySet().iterator();
    while (it.hasNext()) {
      if (it.next().getValue() >= from) break;
      it.remove();
    }
    int history = st.history;
    boolean isNew = st.values.remove(value) == null;
    st.values.put(value, t);
    while (st.values.size() > MAX_VALUES) st.values.remove(st.values.keySet().iterator().next());
    st.history++;
    st.last = t;
    store.put(p.customer(), st);
    if (history >= MIN_HISTORY && isNew && Cooldowns.open(cooldowns, p.customer(), t, COOLDOWN)) out.add(new Alert(NAME, p.customer(), p.id(), t));
  }
}
