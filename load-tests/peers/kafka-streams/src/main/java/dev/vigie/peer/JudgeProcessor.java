package dev.vigie.peer;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;

/**
 * The whole job for one input partition (one task), with Vigie's event-time rules:
 * <ul>
 *   <li>watermark W = largest event time seen on the partition - 5s (any record with a time moves it);</li>
 *   <li>payments (type "payment", with a customer) wait in a buffer ordered by (event time, offset) and
 *       reach the event detectors once W has passed their time (t < W), in that order; a payment already
 *       behind the point the detectors reached is late and never judged;</li>
 *   <li>the tumbling hour counts every payment whose window has not fired, and fires at W >= end.</li>
 * </ul>
 */
public final class JudgeProcessor implements Processor<String, String, String, String> {
  static final long MAX_OUT_OF_ORDERNESS = 5_000;
  static final String PENDING = "pending";
  static final String CLOCK = "clock";
  /** Records taken and alerts sent by every task of the process (for the run summary). */
  static final AtomicLong RECORDS = new AtomicLong();
  static final AtomicLong ALERTS = new AtomicLong();

  private final List<Detector> detectors = List.of(new Velocity(), new FirstSeen(), new GeoVelocity(), new Outlier());
  private final BeneficiariesHour window = new BeneficiariesHour();
  private final List<Alert> alerts = new ArrayList<>();
  private ProcessorContext<String, String> context;
  private KeyValueStore<Bytes, Payment> pending;
  /** "max": largest event time seen; "w": the watermark the detectors have reached. */
  private KeyValueStore<String, Long> clock;

  static List<StoreBuilder<?>> stores() {
    List<StoreBuilder<?>> all = new ArrayList<>();
    all.add(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(PENDING), Serdes.Bytes(), JsonSerde.of(Payment.class)));
    all.add(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(CLOCK), Serdes.String(), Serdes.Long()));
    all.addAll(Velocity.stores());
    all.addAll(FirstSeen.stores());
    all.addAll(GeoVelocity.stores());
    all.addAll(Outlier.stores());
    all.addAll(BeneficiariesHour.stores());
    return all;
  }

  static String[] storeNames() {
    return stores().stream().map(StoreBuilder::name).toArray(String[]::new);
  }

  @Override
  public void init(ProcessorContext<String, String> context) {
    this.context = context;
    pending = context.getStateStore(PENDING);
    clock = context.getStateStore(CLOCK);
    for (Detector d : detectors) d.init(context);
    window.init(context);
  }

  private long clockValue(String name) {
    Long v = clock.get(name);
    return v == null ? Long.MIN_VALUE : v;
  }

  private static Bytes pendingKey(long ts, long offset) {
    return Bytes.wrap(ByteBuffer.allocate(16).putLong(ts).putLong(offset).array());
  }

  @Override
  public void process(Record<String, String> record) {
    RECORDS.incrementAndGet();
    Payment p = record.value() == null ? null : Payment.parse(record.value());
    if (p == null) return;
    long max = clockValue("max");
    long w = max == Long.MIN_VALUE ? Long.MIN_VALUE : max - MAX_OUT_OF_ORDERNESS;
    if ("payment".equals(p.type()) && p.customer() != null) {
      long offset = context.recordMetadata().map(m -> m.offset()).orElse(RECORDS.get());
      if (p.ts() >= clockValue("w")) pending.put(pendingKey(p.ts(), offset), p);
      window.add(p, w);
    }
    if (p.ts() > max) {
      clock.put("max", p.ts());
      advance(p.ts() - MAX_OUT_OF_ORDERNESS);
    }
    // Stamped like the record that raised them (an event-time stamp could fall behind the topic's retention).
    for (Alert a : alerts) context.forward(new Record<>(a.key(), a.toJson(), record.timestamp()));
    ALERTS.addAndGet(alerts.size());
    alerts.clear();
  }

  /** Move the watermark to `w`: judge the payments it passed, in order, then fire the windows it closed. */
  private void advance(long w) {
    if (w <= clockValue("w")) return;
    clock.put("w", w);
    if (w <= 0) return;
    List<KeyValue<Bytes, Payment>> due = new ArrayList<>();
    try (KeyValueIterator<Bytes, Payment> it = pending.range(pendingKey(0, 0), pendingKey(w - 1, Long.MAX_VALUE))) {
      while (it.hasNext()) due.add(it.next());
    }
    for (KeyValue<Bytes, Payment> kv : due) {
      pending.delete(kv.key);
      for (Detector d : detectors) d.judge(kv.value, alerts);
    }
    window.fire(w, alerts);
  }
}
