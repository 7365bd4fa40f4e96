package dev.vigie.peer;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import org.apache.kafka.streams.state.StoreBuilder;

/**
 * impossible-travel: two consecutive located payments of a customer at least 500 km apart (haversine,
 * Earth radius 6371.0088 km) at more than 900 km/h, or at the same millisecond. The previous one is
 * forgotten after a day. Cooldown 1h. Stored per customer (32 bytes): the previous located payment's
 * time, latitude and longitude, and the end of the cooldown.
 */
public final class GeoVelocity extends OneStoreDetector {
  static final String NAME = "impossible-travel";
  static final double MAX_SPEED_KMH = 900;
  static final double MIN_DISTANCE_KM = 500;
  static final long FORGET_AFTER = Duration.ofDays(1).toMillis();
  static final long COOLDOWN = Duration.ofHours(1).toMillis();
  static final double EARTH_RADIUS_KM = 6371.0088;
  static final String STORE = "geo";

  GeoVelocity() {
    super(STORE);
  }

  static List<StoreBuilder<?>> stores() {
    return storeNamed(STORE);
  }

  /** Great-circle distance in km (haversine), in the same operations as Vigie's. */
  static double haversineKm(double lat1, double lon1, double lat2, double lon2) {
    double rad = Math.PI / 180;
    double sLat = StrictMath.sin(((lat2 - lat1) * rad) / 2);
    double sLon = StrictMath.sin(((lon2 - lon1) * rad) / 2);
    double a = sLat * sLat + StrictMath.cos(lat1 * rad) * StrictMath.cos(lat2 * rad) * sLon * sLon;
    return 2 * EARTH_RADIUS_KM * StrictMath.asin(Math.min(1, StrictMath.sqrt(a)));
  }

  @Override
  public void judge(Payment p, List<Alert> out) {
    double lat = p.lat();
    double lon = p.lon();
    if (!Double.isFinite(lat) || !Double.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) return;
    long t = p.ts();
    lat += 0.0;
    lon += 0.0;
    byte[] old = store.get(p.customer());
    long until = Cooldowns.NONE;
    if (old != null) {
      ByteBuffer prev = ByteBuffer.wrap(old);
      long time = prev.getLong();
      double prevLat = prev.getDouble();
      double prevLon = prev.getDouble();
      until = prev.getLong();
      if (time >= t - FORGET_AFTER && met(prevLat, prevLon, lat, lon, t - time)) {
        long next = Cooldowns.open(until, t, COOLDOWN);
        if (next != Cooldowns.NONE) {
          until = next;
          out.add(new Alert(NAME, p.customer(), p.id(), t));
        }
      }
    }
    store.put(p.customer(), ByteBuffer.allocate(32).putLong(t).putDouble(lat).putDouble(lon).putLong(until).array());
  }

  private static boolean met(double lat1, double lon1, double lat2, double lon2, long elapsed) {
    double distance = haversineKm(lat1, lon1, lat2, lon2);
    double speed = (distance * 3_600_000) / Math.max(elapsed, 1);
    if (distance < MIN_DISTANCE_KM || distance == 0) return false;
    return elapsed <= 0 || speed > MAX_SPEED_KMH;
  }
}
