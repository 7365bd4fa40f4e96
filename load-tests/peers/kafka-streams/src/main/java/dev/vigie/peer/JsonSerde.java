package dev.vigie.peer;

import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/** A serde for the state classes, as JSON (Jackson). */
public final class JsonSerde {
  private JsonSerde() {}

  public static <T> Serde<T> of(Class<T> type) {
    Serializer<T> ser = (topic, v) -> {
      if (v == null) return null;
      try {
        return Payment.JSON.writeValueAsBytes(v);
      } catch (Exception e) {
        throw new SerializationException(e);
      }
    };
    Deserializer<T> de = (topic, b) -> {
      if (b == null) return null;
      try {
        return Payment.JSON.readValue(b, type);
      } catch (Exception e) {
        throw new SerializationException(e);
      }
    };
    return Serdes.serdeFrom(ser, de);
  }
}
