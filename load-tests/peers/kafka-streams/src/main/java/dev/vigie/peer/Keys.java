package dev.vigie.peer;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.utils.Bytes;

/**
 * Composite store keys, ordered as RocksDB and the in-memory stores order them (unsigned bytes): a
 * customer prefix (2-byte length, UTF-8) followed by big-endian longs (event times, never negative) or
 * a string, so that a customer's entries, or the entries due before a time, are one range scan.
 */
final class Keys {
  private Keys() {}

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** The customer prefix followed by `tail` bytes. */
  static ByteBuffer customer(String customer, int tail) {
    byte[] c = utf8(customer);
    return ByteBuffer.allocate(2 + c.length + tail).putShort((short) c.length).put(c);
  }

  /** customer + string (e.g. a device or a beneficiary). */
  static Bytes customerString(String customer, String s) {
    byte[] b = utf8(s);
    return Bytes.wrap(customer(customer, b.length).put(b).array());
  }

  /** customer + two longs. */
  static Bytes customerLongs(String customer, long a, long b) {
    return Bytes.wrap(customer(customer, 16).putLong(a).putLong(b).array());
  }

  /** A long then a string. */
  static Bytes longString(long a, String s) {
    byte[] b = utf8(s);
    return Bytes.wrap(ByteBuffer.allocate(8 + b.length).putLong(a).put(b).array());
  }

  static Bytes longs(long a, long b) {
    return Bytes.wrap(ByteBuffer.allocate(16).putLong(a).putLong(b).array());
  }

  static Bytes longOnly(long a) {
    return Bytes.wrap(ByteBuffer.allocate(8).putLong(a).array());
  }
}
