package dev.vigie.peer;

import java.util.List;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;

/** A detector whose per-customer state is one binary value in one cached RocksDB store. */
abstract class OneStoreDetector implements Detector {
  private final String storeName;
  protected KeyValueStore<String, byte[]> store;

  OneStoreDetector(String storeName) {
    this.storeName = storeName;
  }

  /** The store of a detector of this kind named `name`. */
  static List<StoreBuilder<?>> storeNamed(String name) {
    return List.of(PeerStores.persistent(name, Serdes.String(), Serdes.ByteArray()));
  }

  @Override
  public void init(ProcessorContext<String, String> context) {
    store = context.getStateStore(storeName);
  }
}
