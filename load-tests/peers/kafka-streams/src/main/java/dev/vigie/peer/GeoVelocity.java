package dev.vigie.peer;

import java.time.Duration;
import java.util.List;
import org.apache.kafka.streams.state.StoreBuilder;

/**
 * impossible-travel: two consecutive located payments of a customer at least 500 km apart (haversine,
 * Earth radius 6371.0088 km) at more than 900 km/h, or at the same millisecond. The previous one is
 * forgotten after a day. Cooldown 1h, as for velocity.
 */
public final class GeoVelocity extends CustomerStateDetector<GeoVelocity.State> {
  static final String NAME = "impossible-travel";
  static final double MAX_SPEED_KMH = 900;
  static final double MIN_DISTANCE_KM = 500;
  static final long FORGET_AFTER = Duration.ofDays(1).toMillis();
  static final long COOLDOWN = Duration.ofHours(1).toMillis();
  static final double EARTH_RADIUS_KM = 6371.0088;
  static final String STORE = "geo-last";
  static final String COOLDOWNS = "geo-cooldown";

  /** The customer's previous located payment. */
  public static final class State {
    public long time;
    public double lat;
    public double lon;
  }

  GeoVelocity() {
    super(STORE, COOLDOWNS);
  }

  static List<StoreBuilder<?>> stores() {
    return stores(STORE, COOLDOWNS, JsonSerde.of(State.class));
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
    State prev = store.get(p.customer());
    State cur = new State();
    cur.time = t;
    cur.lat = lat + 0.0;
    cur.lon = lon + 0.0;
    store.put(p.customer(), cur);
    if (prev == null || prev.time < t - FORGET_AFTER) return;
    double distance = haversineKm(prev.lat, prev.lon, cur.lat, cur.lon);
    long elapsed = t - prev.time;
    double speed = (distance * 3_600_000) / Math.max(elapsed, 1);
    if (distance < MIN_DISTANCE_KM || distance == 0) return;
    boolean met = elapsed <= 0 || speed > MAX_SPEED_KMH;
    if (met && Cooldowns.open(cooldowns, p.customer(), t, COOLDOWN)) out.add(new Alert(NAME, p.customer(), p.id(), t));
  }
}
