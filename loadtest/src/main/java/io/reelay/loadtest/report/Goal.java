package io.reelay.loadtest.report;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * One goal of a scenario and what was measured against it: {@code {"name","goal","measured","unit","met"}},
 * with the peer's figure beside it when the peer ran, and by how much and why when it was missed.
 */
public record Goal(String name, String goal, double target, boolean atLeast, double measured, String unit, Double peer,
    String why) {

  /** The measured value must be at least {@code target}. */
  public static Goal atLeast(String name, double target, double measured, String unit) {
    return new Goal(name, "≥ " + fmt(target), target, true, measured, unit, null, null);
  }

  /** The measured value must be at most {@code target}. */
  public static Goal atMost(String name, double target, double measured, String unit) {
    return new Goal(name, "≤ " + fmt(target), target, false, measured, unit, null, null);
  }

  /** The same goal with the peer's figure for the same measure. */
  public Goal withPeer(double peerValue) {
    return new Goal(name, goal, target, atLeast, measured, unit, peerValue, why);
  }

  /** The same goal with the reason it was missed (said only when it was). */
  public Goal because(String reason) {
    return new Goal(name, goal, target, atLeast, measured, unit, peer, reason);
  }

  public boolean met() {
    return !Double.isNaN(measured) && (atLeast ? measured >= target : measured <= target);
  }

  /** How far from the goal, in its unit (0 when met). */
  public double missedBy() {
    return met() ? 0 : Double.isNaN(measured) ? Double.NaN : Math.abs(target - measured);
  }

  /** Reelay's figure over the peer's (for a rate: how many times more; for a latency: how many times less). */
  public Double ratio() {
    if (peer == null || peer == 0 || Double.isNaN(peer) || Double.isNaN(measured)) {
      return null;
    }
    return atLeast ? measured / peer : (measured == 0 ? null : peer / measured);
  }

  Map<String, Object> asMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", name);
    m.put("goal", goal);
    m.put("measured", Double.isNaN(measured) ? null : round(measured));
    m.put("unit", unit);
    m.put("met", met());
    if (!met()) {
      m.put("missedBy", Double.isNaN(missedBy()) ? null : round(missedBy()));
      m.put("why", why == null ? "not explained" : why);
    }
    if (peer != null) {
      m.put("peer", round(peer));
      Double r = ratio();
      if (r != null) {
        m.put("ratio", round(r));
      }
    }
    return m;
  }

  static double round(double v) {
    return Math.abs(v) >= 100 ? Math.round(v * 10) / 10.0 : Math.round(v * 1000) / 1000.0;
  }

  static String fmt(double v) {
    if (Double.isNaN(v)) {
      return "—";
    }
    if (v == Math.rint(v) && Math.abs(v) < 1e15) {
      return String.format(Locale.ROOT, "%,d", (long) v);
    }
    return String.format(Locale.ROOT, Math.abs(v) >= 100 ? "%,.1f" : "%.3f", v);
  }
}
