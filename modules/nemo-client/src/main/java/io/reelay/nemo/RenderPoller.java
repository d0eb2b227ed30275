package io.reelay.nemo;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * When to poll a render job next (E9): completion seen about a second after it happens, without
 * more calls than the vendor's fixed schedule (a poll every 30 s) would make.
 *
 * <p>The budget: poll k may happen at time x (since submit) only if k ≤ ⌈x / grid⌉ — by then the
 * fixed schedule would have made at least as many calls for a job still running.
 *
 * <p>Within that budget the poller aims at the finish it predicts from the progress it has seen: a
 * straight line through the first and the latest sample, the first being the submit's own answer
 * when it gave one (else 0 % at submit). Where that line reaches 100 % is the finish when progress runs from 0 to 100; a backend may
 * as well cap progress at 95 % and jump to 100 % on completion (the simulator does; which one the
 * real backend does is open, nemo-api.md §10), and then the job finishes where the line reaches
 * 95 %. Which one the backend does is learnt from the renders themselves ({@link Convention}, one
 * per backend, shared by its pollers): progress seen above 95 % on a running job says "to 100";
 * jobs found complete by a look at the 95 % point, before the line reached 100 %, say "capped".
 * Until it is known: when the budget holds two more polls before the 100 % point, the first looks
 * at the 95 % point and the second at the 100 % point; with one poll left it goes to the 100 %
 * point, which is never too early. Without usable progress it is the plain schedule. Not
 * thread-safe: one per render, owned by its session.
 */
public final class RenderPoller {

  /** Where a backend that caps progress finishes (see above). */
  private static final double CAPPED = 95;

  /**
   * What the renders of one backend have shown about where progress stands when a job finishes.
   * Thread-safe; share one per backend.
   */
  public static final class Convention {
    private final AtomicInteger capped = new AtomicInteger();
    private final AtomicInteger toFull = new AtomicInteger();

    /** The finish point to aim at, or NaN while the evidence does not say (then both are looked at). */
    double finishPercent() {
      int c = capped.get();
      int f = toFull.get();
      if (f > c) {
        return 100;
      }
      return c >= 2 && c > f ? CAPPED : Double.NaN;
    }

    @Override
    public String toString() {
      return "Convention[capped=" + capped.get() + ", to 100=" + toFull.get() + "]";
    }
  }

  private final Duration grid;
  private final Duration margin;
  private final Duration minGap;
  private final Convention convention;
  private int calls;
  private boolean pastCapSeen;
  private boolean aimedAtCap;
  private double fullAtAim;
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
    this(grid, margin, minGap, new Convention());
  }

  /** As above, learning the backend's progress convention into (and from) {@code convention}. */
  public RenderPoller(Duration grid, Duration margin, Duration minGap, Convention convention) {
    this.grid = grid;
    this.margin = margin;
    this.minGap = minGap;
    this.convention = convention;
  }

  /**
   * The progress the submit answered with (documented as 5 for a pending job): where the progress
   * line starts. Without it the line starts at 0 % at submit.
   */
  public void submitted(Integer progress) {
    if (progress != null && progress >= 0 && progress < 100 && firstT < 0) {
      firstT = 0;
      firstP = progress;
      lastT = 0;
      lastP = progress;
    }
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
      if (progress > CAPPED && !pastCapSeen) {
        pastCapSeen = true; // a running job past 95 %: this backend's progress runs to 100
        convention.toFull.incrementAndGet();
      }
    }
    double g = seconds(grid);
    double m = seconds(margin);
    // the budget: call number n not before the time the fixed schedule would have made it
    double earliestNext = calls * g + 1e-3;
    double full = reaches(100);
    double known = convention.finishPercent();
    double target;
    aimedAtCap = false;
    if (Double.isNaN(full) || full + m <= t) {
      target = nextGrid(t); // no usable progress, or it should be done already: the plain schedule
    } else {
      target = full + m;
      double capped = reaches(CAPPED) + m;
      boolean capAhead = lastP < CAPPED && capped > t; // a near miss looks again after minGap
      boolean twoPollsLeft = capAhead
          && Math.max(capped, earliestNext) + seconds(minGap) <= full + m
          && (calls + 1) * g + 1e-3 <= full + m;
      if (capAhead && (known == CAPPED || (Double.isNaN(known) && twoPollsLeft))) {
        target = capped;
        aimedAtCap = true;
        fullAtAim = full;
      }
    }
    target = Math.max(target, t + seconds(minGap));
    target = Math.max(target, earliestNext);
    return Duration.ofNanos((long) ((target - t) * 1e9));
  }

  /**
   * The poll at {@code sinceSubmit} found the job complete: if that was a look at the 95 % point
   * made before the line reached 100 %, this backend caps progress.
   */
  public void completed(Duration sinceSubmit) {
    if (aimedAtCap && seconds(sinceSubmit) < fullAtAim && !pastCapSeen) {
      convention.capped.incrementAndGet();
    }
    aimedAtCap = false;
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
