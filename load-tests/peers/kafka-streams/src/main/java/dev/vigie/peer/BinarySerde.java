package dev.vigie.peer;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;

/** A compact binary serde for the larger states (a customer's devices, an hour's beneficiaries). */
final class BinarySerde {
  private BinarySerde() {}

  interface Writer<T> {
    void write(T v, DataOutputStream out) throws IOException;
  }

  interface Reader<T> {
    T read(DataInputStream in) throws IOException;
  }

  static <T> Serde<T> of(Writer<T> writer, Reader<T> reader) {
    return Serdes.serdeFrom(
        (topic, v) -> {
          if (v == null) return null;
          ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
          try (DataOutputStream out = new DataOutputStream(bytes)) {
            writer.write(v, out);
          } catch (IOException e) {
            throw new SerializationException(e);
          }
          return bytes.toByteArray();
        },
        (topic, b) -> {
          if (b == null) return null;
          try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(b))) {
            return reader.read(in);
          } catch (IOException e) {
            throw new SerializationException(e);
          }
        });
  }
}
