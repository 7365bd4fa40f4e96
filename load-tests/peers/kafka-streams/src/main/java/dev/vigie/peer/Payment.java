package dev.vigie.peer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

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
}
