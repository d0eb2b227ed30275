package io.reelay.nemo;

import java.time.Duration;

/**
 * When to poll a render job next (E9): completion seen about a second after it happens, without
 * more calls than the vendor's fixed schedule (a poll every 30 s) would make.
 *
 * <p>The rule: poll k may happen at time x (since submit) only if k ≤ ⌈x / grid⌉ — by then the fixed
 * schedule would have made at least as many calls for a job still running. Within that budget the
 * poller aims at the finish it predicts from the progress it has seen (a straight line through the
 * progress samples), plus a small margin; without usable progress it falls back to the grid, i.e.
 * exactly the vendor's schedule. Not thread-safe: one per render, owned by its session.
 */
public final class RenderPoller {

  private final Duration grid;
  private final Duration margin;
  private final Duration minGap;
  private int calls;
  private double firstT = -1;
  private double firstP;
  private double lastT;
  private double lastP;

  /**
   * @param grid the vendor's poll interval (30 s), which also sets the call budget
   * @param margin how long after the predicted finish to look (covers small misses)
   * @param minGap the shortest time between two polls
   */
  public RenderPoller(Duration grid, Duration margin, Duration minGap) {
    this.grid = grid;
    this.margin = margin;
    this.minGap = minGap;
  }

  /** Delay from submit to the first poll: the first grid point, as the vendor's schedule. */
  public Duration first() {
    return grid;
  }

  /**
   * Records a poll answer and says how long to wait before the next poll.
   *
   * @param sinceSubmit time from submit to this answer
   * @param progress the job's progress (0–100), or null if it reports none
   */
  public Duration next(Duration sinceSubmit, Integer progress) {
    calls++;
    double t = seconds(sinceSubmit);
    if (progress != null && progress > 0 && progress < 100) {
      if (firstT < 0 || progress < lastP) {
        firstT = 0; // a job starts at zero progress at submit
        firstP = 0;
      }
      lastT = t;
      lastP = progress + 0.5; // whole percents are truncated: the true value lies half a step above on average
    }
    double target = predictedFinish();
    if (Double.isNaN(target) || target <= t) {
      target = nextGrid(t); // no usable progress, or it should be done already: the plain schedule
    } else {
      target += seconds(margin);
    }
    target = Math.max(target, t + seconds(minGap));
    // the budget: call number calls+1 not before the time the fixed schedule would have made it
    double earliest = calls * seconds(grid);
    target = Math.max(target, earliest + 1e-3);
    return Duration.ofNanos((long) ((target - t) * 1e9));
  }

  /** Calls made so far. */
  public int calls() {
    return calls;
  }

  private double predictedFinish() {
    if (firstT < 0 || lastT <= firstT || lastP <= firstP) {
      return Double.NaN;
    }
    double rate = (lastP - firstP) / (lastT - firstT);
    return lastT + (100 - lastP) / rate;
  }

  private double nextGrid(double t) {
    double g = seconds(grid);
    return (Math.floor(t / g) + 1) * g;
  }

  private static double seconds(Duration d) {
    return d.toNanos() / 1e9;
  }
}
