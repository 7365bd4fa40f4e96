package dev.vigie.peer;

import java.util.List;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;

/** A detector keeping one state record per customer, and the customer's cooldown, in two stores. */
abstract class CustomerStateDetector<S> implements Detector {
  private final String storeName;
  private final String cooldownName;
  protected KeyValueStore<String, S> store;
  protected KeyValueStore<String, Long> cooldowns;

  CustomerStateDetector(String storeName, String cooldownName) {
    this.storeName = storeName;
    this.cooldownName = cooldownName;
  }

  /** The two stores such a detector needs: its state (in memory, with a changelog) and its cooldowns. */
  static <S> List<StoreBuilder<?>> stores(String storeName, String cooldownName, Serde<S> serde) {
    return List.of(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(storeName), Serdes.String(), serde),
        Cooldowns.builder(cooldownName));
  }

  @Override
  public void init(ProcessorContext<String, String> context) {
    store = context.getStateStore(storeName);
    cooldowns = context.getStateStore(cooldownName);
  }
}
