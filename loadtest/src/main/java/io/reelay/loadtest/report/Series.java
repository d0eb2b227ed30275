package io.reelay.loadtest.report;

import java.util.ArrayList;
import java.util.List;

/** Values over the run's time (seconds from its start), for a plot. Thread-safe. */
public final class Series {

  /** One point. */
  public record Point(double seconds, double value) {}

  private final String name;
  private final List<Point> points = new ArrayList<>();

  public Series(String name) {
    this.name = name;
  }

  public String name() {
    return name;
  }

  public synchronized Series add(double seconds, double value) {
    points.add(new Point(seconds, value));
    return this;
  }

  public synchronized List<Point> points() {
    return List.copyOf(points);
  }
}
