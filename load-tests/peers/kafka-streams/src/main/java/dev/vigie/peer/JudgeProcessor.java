package dev.vigie.peer;

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
 * The waiting payments are an in-memory store (with its changelog, as every store of the job): at most
 * the out-of-orderness of event time, each written once and deleted seconds later, which the record cache
 * mostly absorbs before they reach the store. The clock (largest time seen, watermark) is a store read
 * once when the task starts and written on every change.
 */
public final class JudgeProcessor implements Processor<String, String, String, String> {
  static final long MAX_OUT_OF_ORDERNESS = 5_000;
  static final String PENDING = "pending";
  static final String CLOCK = "clock";
  /** Records taken and alerts sent by every task of the process, and when the first and the latest record were taken (epoch ms). */
  static final AtomicLong RECORDS = new AtomicLong();
  static final AtomicLong ALERTS = new AtomicLong();
  static final AtomicLong FIRST_MS = new AtomicLong();
  static final AtomicLong LAST_MS = new AtomicLong();

  private final List<Detector> detectors = List.of(new Velocity(), new FirstSeen(), new GeoVelocity(), new Outlier());
  private final BeneficiariesHour window = new BeneficiariesHour();
  private final List<Alert> alerts = new ArrayList<>();
  private ProcessorContext<String, String> context;
  private KeyValueStore<Bytes, Payment> pending;
  /** "max": largest event time seen; "w": the watermark the detectors have reached. */
  private KeyValueStore<String, Long> clock;
  private long max;
  private long reached;

  static List<StoreBuilder<?>> stores() {
    List<StoreBuilder<?>> all = new ArrayList<>();
    all.add(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(PENDING), Serdes.Bytes(), Payment.SERDE).withCachingEnabled());
    all.add(PeerStores.persistent(CLOCK, Serdes.String(), Serdes.Long()));
    all.addAll(Velocity.stores());
    all.addAll(FirstSeen.stores());
    all.addAll(GeoVelocity.stores());
    all.addAll(Outlier.stores());
    all.addAll(BeneficiariesHour.stores());
    return all;
  }

  @Override
  public void init(ProcessorContext<String, String> context) {
    this.context = context;
    pending = context.getStateStore(PENDING);
    clock = context.getStateStore(CLOCK);
    max = clockValue("max");
    reached = clockValue("w");
    for (Detector d : detectors) d.init(context);
    window.init(context);
  }

  private long clockValue(String name) {
    Long v = clock.get(name);
    return v == null ? Long.MIN_VALUE : v;
  }

  @Override
  public void process(Record<String, String> record) {
    long now = System.currentTimeMillis();
    if (RECORDS.getAndIncrement() == 0) FIRST_MS.set(now);
    LAST_MS.set(now);
    Payment p = record.value() == null ? null : Payment.parse(record.value());
    if (p == null) return;
    long w = max == Long.MIN_VALUE ? Long.MIN_VALUE : max - MAX_OUT_OF_ORDERNESS;
    if ("payment".equals(p.type()) && p.customer() != null) {
      long offset = context.recordMetadata().map(m -> m.offset()).orElse(RECORDS.get());
      if (p.ts() >= reached) pending.put(Keys.longs(p.ts(), offset), p);
      window.add(p, w);
    }
    if (p.ts() > max) {
      max = p.ts();
      clock.put("max", max);
      advance(max - MAX_OUT_OF_ORDERNESS);
    }
    // Stamped like the record that raised them (an event-time stamp could fall behind the topic's retention).
    for (Alert a : alerts) context.forward(new Record<>(a.key(), a.toJson(), record.timestamp()));
    ALERTS.addAndGet(alerts.size());
    alerts.clear();
  }

  /** Move the watermark to `w`: judge the payments it passed, in order, then fire the windows it closed. */
  private void advance(long w) {
    if (w <= reached) return;
    long before = reached;
    reached = w;
    clock.put("w", w);
    if (w <= 0) return;
    // Payments behind the previous watermark were judged or never kept: the scan starts at it, past the
    // deletes the record cache still holds.
    List<KeyValue<Bytes, Payment>> due = new ArrayList<>();
    try (KeyValueIterator<Bytes, Payment> it = pending.range(Keys.longs(Math.max(0, before), 0), Keys.longs(w - 1, Long.MAX_VALUE))) {
      while (it.hasNext()) due.add(it.next());
    }
    for (KeyValue<Bytes, Payment> kv : due) {
      pending.delete(kv.key);
      for (Detector d : detectors) d.judge(kv.value, alerts);
    }
    window.fire(before, w, alerts);
  }
}
