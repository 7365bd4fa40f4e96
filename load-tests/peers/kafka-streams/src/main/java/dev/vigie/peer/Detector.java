package dev.vigie.peer;

import java.util.List;
import org.apache.kafka.streams.processor.api.ProcessorContext;

/** An event detector: judges the events of a key one by one, in event-time order. */
public interface Detector {
  void init(ProcessorContext<String, String> context);

  /** Judge `p` against the key's state, then learn from it; alerts go to `out`. */
  void judge(Payment p, List<Alert> out);
}
