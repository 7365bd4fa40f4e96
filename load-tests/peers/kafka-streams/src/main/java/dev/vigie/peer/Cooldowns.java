package dev.vigie.peer;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;

/** Per-key cooldowns, as Vigie's detector runtime keeps them: key -> end of the open cooldown. */
final class Cooldowns {
  private Cooldowns() {}

  static StoreBuilder<KeyValueStore<String, Long>> builder(String name) {
    return Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(name), Serdes.String(), Serdes.Long());
  }

  /**
   * A signal of `key` at `t`: true (alert, and a cooldown until t + cooldown opens) unless a cooldown
   * still runs at t (suppressed).
   */
  static boolean open(KeyValueStore<String, Long> store, String key, long t, long cooldown) {
    Long until = store.get(key);
    if (until != null && t < until) return false;
    store.put(key, t + cooldown);
    return true;
  }
}
