package dev.vigie.peer;

import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;

/**
 * How the job's stores are built: Kafka Streams' defaults (RocksDB, a changelog topic each). The record
 * cache is on for the stores whose keys are written again and again between two commits (a customer's
 * values, open windows, the clock): their writes reach RocksDB and the changelog once per commit. It is
 * off for the stores whose keys are mostly new (a customer's devices, the hour's beneficiaries), where it
 * would only add a lookup and a copy to every write.
 */
final class PeerStores {
  private PeerStores() {}

  /** RocksDB, changelog, record cache. */
  static <K, V> StoreBuilder<KeyValueStore<K, V>> persistent(String name, Serde<K> keys, Serde<V> values) {
    return Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(name), keys, values).withCachingEnabled();
  }

  /** RocksDB, changelog, no record cache. */
  static <K, V> StoreBuilder<KeyValueStore<K, V>> persistentUnique(String name, Serde<K> keys, Serde<V> values) {
    return Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(name), keys, values);
  }
}
