package dev.vigie.peer;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One alert: the detector, the key, the triggering event's id (for the window detector,
 * "start-end" of the window, ms) and the event time of the situation.
 */
public record Alert(String detector, String key, String eventId, long time) {

  public String toJson() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("detector", detector);
    m.put("key", key);
    m.put("eventId", eventId);
    m.put("time", time);
    try {
      return Payment.JSON.writeValueAsString(m);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
