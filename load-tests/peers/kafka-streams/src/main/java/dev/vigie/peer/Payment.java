package dev.vigie.peer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;

/**
 * The fields of an input record the job reads (the payments of load-tests/loadgen.ts). A number that is
 * missing or not finite is NaN; a missing string is null.
 */
public record Payment(String id, String type, long ts, String customer, String device, String beneficiary,
                      double amount, double lat, double lon) {

  static final ObjectMapper JSON = new ObjectMapper();

  /** The record, or null when it is not a JSON object with a numeric `ts` (Vigie dead-letters those). */
  public static Payment parse(String value) {
    JsonNode n;
    try {
      n = JSON.readTree(value);
    } catch (Exception e) {
      return null;
    }
    if (n == null || !n.isObject() || !n.path("ts").isNumber()) return null;
    double t = n.get("ts").asDouble();
    if (!(t >= 0)) return null;
    return new Payment(text(n, "id"), text(n, "type"), (long) Math.floor(t), text(n, "customer"), scalar(n, "device"),
        scalar(n, "beneficiary"), number(n, "amount"), number(n, "lat"), number(n, "lon"));
  }

  private static String text(JsonNode n, String f) {
    JsonNode v = n.get(f);
    return v != null && v.isTextual() ? v.asText() : null;
  }

  /** Strings, numbers and booleans, each type apart (as Vigie's scalar fields); anything else is null. */
  private static String scalar(JsonNode n, String f) {
    JsonNode v = n.get(f);
    if (v == null) return null;
    if (v.isTextual()) return "s:" + v.asText();
    if (v.isNumber() && Double.isFinite(v.asDouble())) return "n:" + v.asText();
    if (v.isBoolean()) return "b:" + v.asText();
    return null;
  }

  private static double number(JsonNode n, String f) {
    JsonNode v = n.get(f);
    return v != null && v.isNumber() ? v.asDouble() : Double.NaN;
  }

  /** A compact binary form of the fields (for the payments waiting for the watermark). */
  static final Serde<Payment> SERDE = Serdes.serdeFrom(
      (topic, p) -> {
        if (p == null) return null;
        byte[][] s = {bytes(p.id), bytes(p.type), bytes(p.customer), bytes(p.device), bytes(p.beneficiary)};
        int size = 8 + 24;
        for (byte[] b : s) size += 4 + (b == null ? 0 : b.length);
        ByteBuffer out = ByteBuffer.allocate(size).putLong(p.ts).putDouble(p.amount).putDouble(p.lat).putDouble(p.lon);
        for (byte[] b : s) {
          out.putInt(b == null ? -1 : b.length);
          if (b != null) out.put(b);
        }
        return out.array();
      },
      (topic, bytes) -> {
        if (bytes == null) return null;
        ByteBuffer in = ByteBuffer.wrap(bytes);
        long ts = in.getLong();
        double amount = in.getDouble();
        double lat = in.getDouble();
        double lon = in.getDouble();
        String[] s = new String[5];
        for (int i = 0; i < s.length; i++) {
          int n = in.getInt();
          if (n < 0) continue;
          s[i] = new String(bytes, in.position(), n, StandardCharsets.UTF_8);
          in.position(in.position() + n);
        }
        return new Payment(s[0], s[1], ts, s[2], s[3], s[4], amount, lat, lon);
      });

  private static byte[] bytes(String s) {
    return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
  }
}
