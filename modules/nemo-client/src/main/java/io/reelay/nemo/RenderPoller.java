package io.reelay.nemo;

import java.time.Duration;

/**
 * When to poll a render job next (E9): completion seen about a second after it happens, without
 * more calls than the vendor's fixed schedule (a poll every 30 s) would make.
 *
 * <p>The budget: poll k may happen at time x (since submit) only if k ≤ ⌈x / grid⌉ — by then the
 * fixed schedule would have made at least as many calls for a job still running.
 *
 * <p>Within that budget the poller aims at the finish it predicts from the progress it has seen: a
 * straight line through the first and the latest sample (through submit at 0 % while there is only
 * one). Where that line reaches 100 % is the finish when progress runs from 0 to 100; a backend may
 * as well cap progress at 95 % and jump to 100 % on completion (the simulator does; which one the
 * real backend does is open, nemo-api.md §10), and then the job finishes where the line reaches
 * 95 %. When the budget holds two more polls before the 100 % point, the first looks at the 95 %
 * point and the second at the 100 % point; with one poll left it goes to the 100 % point, which is
 * never too early. Without usable progress it is the plain schedule. Not thread-safe: one per
 * render, owned by its session.
 */
public final class RenderPoller {

  /** Where a backend that caps progress finishes (see above). */
  private static final double CAPPED = 95;

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
      double p = progress + 0.5; // whole percents are truncated: the true value lies half a step above on average
      if (firstT < 0 || p < lastP) {
        firstT = t; // the first sample, or the job started over
        firstP = p;
      }
      lastT = t;
      lastP = p;
    }
    double g = seconds(grid);
    double m = seconds(margin);
    // the budget: call number n not before the time the fixed schedule would have made it
    double earliestNext = calls * g + 1e-3;
    double full = reaches(100);
    double target;
    if (Double.isNaN(full) || full + m <= t) {
      target = nextGrid(t); // no usable progress, or it should be done already: the plain schedule
    } else {
      target = full + m;
      double capped = reaches(CAPPED) + m;
      boolean twoPollsLeft = lastP < CAPPED && capped >= t + seconds(minGap)
          && Math.max(capped, earliestNext) + seconds(minGap) <= full + m
          && (calls + 1) * g + 1e-3 <= full + m;
      if (twoPollsLeft) {
        target = capped;
      }
    }
    target = Math.max(target, t + seconds(minGap));
    target = Math.max(target, earliestNext);
    return Duration.ofNanos((long) ((target - t) * 1e9));
  }

  /** Calls made so far. */
  public int calls() {
    return calls;
  }

  /** When the progress line reaches {@code percent}, or NaN without a usable line. */
  private double reaches(double percent) {
    if (firstT < 0) {
      return Double.NaN;
    }
    double t0 = firstT;
    double p0 = firstP;
    if (lastT <= firstT) {
      t0 = 0; // one sample: the job started at zero progress at submit
      p0 = 0;
    }
    if (lastT <= t0 || lastP <= p0) {
      return Double.NaN;
    }
    double rate = (lastP - p0) / (lastT - t0);
    return lastT + (percent - lastP) / rate;
  }

  private double nextGrid(double t) {
    double g = seconds(grid);
    return (Math.floor(t / g) + 1) * g;
  }

  private static double seconds(Duration d) {
    return d.toNanos() / 1e9;
  }
}
