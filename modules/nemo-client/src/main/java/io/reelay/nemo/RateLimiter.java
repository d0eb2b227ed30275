package io.reelay.nemo;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.LongUnaryOperator;
import org.apache.pekko.actor.ActorSystem;

/**
 * A non-blocking, lock-free call-rate limiter (an evenly spaced token bucket with a burst), one
 * per backend host per JVM so that every client of a worker shares it. A fleet of N workers calls
 * at most N × {@code calls-per-second}.
 *
 * <p>The rate adapts to the backend (additive increase, multiplicative decrease): each 429 halves
 * it (at most once a second, so one overload moment counts once, and never below 1/64 of the
 * configured rate), and each second with successful calls and no 429 adds back 1/20 of the
 * configured rate, up to it. A fleet that is pushed back slows down instead of hammering.
 */
final class RateLimiter {

  private static final ConcurrentHashMap<String, RateLimiter> PER_HOST = new ConcurrentHashMap<>();
  private static final long SECOND = 1_000_000_000L;

  private final double maxPerSecond;
  private final int burst;
  private final ActorSystem system;
  private final LongSupplier clock;
  private final AtomicLong nextFree;
  // the current rate, as the interval between two calls (AIMD moves it)
  private final AtomicLong intervalNanos;
  private final AtomicLong lastChange;

  RateLimiter(ActorSystem system, double perSecond, int burst, LongSupplier clock) {
    this.system = system;
    this.maxPerSecond = perSecond;
    this.burst = Math.max(1, burst);
    this.clock = clock;
    this.intervalNanos = new AtomicLong((long) (SECOND / perSecond));
    this.nextFree = new AtomicLong(clock.getAsLong() - burstNanos()); // starts with a full burst
    this.lastChange = new AtomicLong(clock.getAsLong() - SECOND);
  }

  /** The limiter of {@code host}, created on first use; {@code perSecond <= 0} means unlimited (null). */
  static RateLimiter forHost(ActorSystem system, String host, double perSecond, int burst) {
    if (perSecond <= 0) {
      return null;
    }
    return PER_HOST.computeIfAbsent(host + "@" + perSecond + "/" + burst,
        k -> new RateLimiter(system, perSecond, burst, System::nanoTime));
  }

  private long burstNanos() {
    return intervalNanos.get() * burst;
  }

  /** Calls per second allowed now. */
  double perSecond() {
    return (double) SECOND / intervalNanos.get();
  }

  /**
   * Reserves the next call slot: how long the caller must wait for it (zero: at once). Unused
   * capacity accumulates up to the burst, no further.
   */
  Duration reserve() {
    long now = clock.getAsLong();
    long interval = intervalNanos.get();
    long slot;
    while (true) {
      long next = nextFree.get();
      slot = Math.max(next, now - interval * burst + interval);
      if (nextFree.compareAndSet(next, slot + interval)) {
        break;
      }
    }
    return Duration.ofNanos(Math.max(0, slot - now));
  }

  /** Completes when the caller may make one call. */
  CompletionStage<Void> acquire() {
    Duration wait = reserve();
    if (wait.isZero()) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Void> f = new CompletableFuture<>();
    system.scheduler().scheduleOnce(wait, () -> f.complete(null), system.dispatcher());
    return f;
  }

  /** The backend answered 429: halve the rate (once a second at most). */
  void rateLimited() {
    long slowest = (long) (SECOND / maxPerSecond * 64);
    adjust(i -> Math.min(slowest, i * 2));
  }

  /** A call went through: a second after the last change, give back 1/20 of the configured rate. */
  void succeeded() {
    if (intervalNanos.get() > (long) (SECOND / maxPerSecond)) {
      double step = Math.max(maxPerSecond / 20, Math.min(1, maxPerSecond));
      adjust(i -> (long) (SECOND / Math.min(maxPerSecond, (double) SECOND / i + step)));
    }
  }

  private void adjust(LongUnaryOperator change) {
    long now = clock.getAsLong();
    long last = lastChange.get();
    if (now - last >= SECOND && lastChange.compareAndSet(last, now)) {
      intervalNanos.updateAndGet(change);
    }
  }
}
