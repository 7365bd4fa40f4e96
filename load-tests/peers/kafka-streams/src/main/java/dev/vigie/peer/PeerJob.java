package dev.vigie.peer;

import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.StoreBuilder;

/**
 * Vigie's standard fraud job (load-tests/standard-job.yaml) with Kafka Streams: payments keyed by
 * customer in, one JSON alert per record out.
 *
 * <pre>
 * java -jar target/peer.jar --bootstrap 127.0.0.1:9092 --input payments --output peer-alerts \
 *   --application-id vigie-peer [--threads 1] [--commit-interval-ms 30000] [--idle-exit 10] [--state-dir DIR]
 * </pre>
 * Each option may come from the environment instead: KAFKA_BROKERS, PEER_INPUT, PEER_OUTPUT,
 * PEER_APP_ID, PEER_THREADS, PEER_COMMIT_INTERVAL_MS, PEER_IDLE_EXIT, PEER_STATE_DIR. About once a
 * second, and when it stops, the job prints on stdout
 * {@code progress <epochMs> <records> <firstRecordEpochMs> <lastRecordEpochMs>} (records taken so far,
 * when the first and the latest were taken; 0 before the first). With --idle-exit N the job stops once
 * it has taken records and then taken none for N seconds, and prints one JSON summary line on stdout.
 */
public final class PeerJob {
  private PeerJob() {}

  static Map<String, String> options(String[] args) {
    Map<String, String> o = new HashMap<>();
    o.put("bootstrap", System.getenv().getOrDefault("KAFKA_BROKERS", "127.0.0.1:9092"));
    o.put("input", System.getenv().getOrDefault("PEER_INPUT", "payments"));
    o.put("output", System.getenv().getOrDefault("PEER_OUTPUT", "peer-alerts"));
    o.put("application-id", System.getenv().getOrDefault("PEER_APP_ID", "vigie-peer"));
    o.put("threads", System.getenv().getOrDefault("PEER_THREADS", "1"));
    o.put("commit-interval-ms", System.getenv().getOrDefault("PEER_COMMIT_INTERVAL_MS", ""));
    o.put("idle-exit", System.getenv().getOrDefault("PEER_IDLE_EXIT", "0"));
    o.put("state-dir", System.getenv().getOrDefault("PEER_STATE_DIR", ""));
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--") || !o.containsKey(a.substring(2)) || i + 1 >= args.length) {
        System.err.println("usage: java -jar peer.jar [--bootstrap HOSTS] [--input TOPIC] [--output TOPIC] [--application-id ID] [--threads N] [--commit-interval-ms MS] [--idle-exit SECONDS] [--state-dir DIR]");
        System.exit(2);
      }
      o.put(a.substring(2), args[++i]);
    }
    return o;
  }

  static Topology topology(String input, String output) {
    Topology t = new Topology();
    t.addSource("payments", Serdes.String().deserializer(), Serdes.String().deserializer(), input);
    t.addProcessor("judge", JudgeProcessor::new, "payments");
    for (StoreBuilder<?> s : JudgeProcessor.stores()) t.addStateStore(s, "judge");
    t.addSink("alerts", output, Serdes.String().serializer(), Serdes.String().serializer(), "judge");
    return t;
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> o = options(args);
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, o.get("application-id"));
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, o.get("bootstrap"));
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.parseInt(o.get("threads")));
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    if (!o.get("state-dir").isEmpty()) p.put(StreamsConfig.STATE_DIR_CONFIG, o.get("state-dir"));
    if (!o.get("commit-interval-ms").isEmpty()) p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Long.parseLong(o.get("commit-interval-ms")));
    long idleMs = Long.parseLong(o.get("idle-exit")) * 1000;

    KafkaStreams streams = new KafkaStreams(topology(o.get("input"), o.get("output")), p);
    CountDownLatch done = new CountDownLatch(1);
    AtomicBoolean failed = new AtomicBoolean();
    streams.setUncaughtExceptionHandler(e -> {
      e.printStackTrace();
      failed.set(true);
      done.countDown();
      return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close();
      progress();
      done.countDown();
    }));
    streams.start();
    long seen = 0;
    long lastChange = System.nanoTime();
    long nextProgress = 0;
    while (done.getCount() > 0) {
      Thread.sleep(100);
      long now = System.nanoTime();
      if (now >= nextProgress) {
        progress();
        nextProgress = now + 1_000_000_000L;
      }
      long n = JudgeProcessor.RECORDS.get();
      if (n != seen) {
        seen = n;
        lastChange = now;
      } else if (idleMs > 0 && seen > 0 && now - lastChange >= idleMs * 1_000_000) {
        break;
      }
    }
    streams.close();
    progress();
    if (failed.get()) System.exit(1);
    if (idleMs <= 0) return;
    long first = JudgeProcessor.FIRST_MS.get();
    long last = JudgeProcessor.LAST_MS.get();
    double seconds = Math.max(1e-3, (last - first) / 1e3);
    System.out.printf("{\"records\":%d,\"alerts\":%d,\"seconds\":%.3f,\"recordsPerSecond\":%.1f}%n",
        seen, JudgeProcessor.ALERTS.get(), seconds, seen / seconds);
    System.out.flush();
    System.exit(0);
  }

  /** One progress line: now, records taken, when the first and the latest were taken (epoch ms). */
  static synchronized void progress() {
    System.out.println("progress " + System.currentTimeMillis() + " " + JudgeProcessor.RECORDS.get() + " "
        + JudgeProcessor.FIRST_MS.get() + " " + JudgeProcessor.LAST_MS.get());
    System.out.flush();
  }
}
