package io.reelay.nemo;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.apache.pekko.actor.ActorSystem;

/**
 * A non-blocking, lock-free call-rate limiter (an evenly spaced token bucket with a burst), one
 * per backend host per JVM so that every client of a worker shares it. A fleet of N workers calls
 * at most N × {@code calls-per-second}.
 *
 * <p>The rate adapts to the backend (additive increase, multiplicative decrease), judged once a
 * second: a second in which at least one call in ten was refused with 429 halves it (never below
 * 1/64 of the configured rate); a second without a refusal adds back 1/20 of the configured rate,
 * up to it. A fleet that is pushed back slows down instead of hammering; a stray 429 among many
 * calls does not slow it.
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
  // the current one-second window: its start, and the calls refused and let through in it
  private final AtomicLong windowStart;
  private final AtomicInteger limited = new AtomicInteger();
  private final AtomicInteger passed = new AtomicInteger();

  RateLimiter(ActorSystem system, double perSecond, int burst, LongSupplier clock) {
    this.system = system;
    this.maxPerSecond = perSecond;
    this.burst = Math.max(1, burst);
    this.clock = clock;
    this.intervalNanos = new AtomicLong((long) (SECOND / perSecond));
    this.nextFree = new AtomicLong(clock.getAsLong() - burstNanos()); // starts with a full burst
    this.windowStart = new AtomicLong(clock.getAsLong());
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

  /** The backend answered 429. */
  void rateLimited() {
    settle();
    limited.incrementAndGet();
  }

  /** A call went through. */
  void succeeded() {
    settle();
    passed.incrementAndGet();
  }

  /**
   * Once a second (at the first call after it), what the last second said: at least one call in ten refused (the backend pushes
   * back, not a stray 429) halves the rate, never below 1/64 of the configured one; no refusal
   * gives back 1/20 of the configured rate (at least one call a second), up to it.
   */
  private void settle() {
    long now = clock.getAsLong();
    long start = windowStart.get();
    if (now - start < SECOND || !windowStart.compareAndSet(start, now)) {
      return;
    }
    int refused = limited.getAndSet(0);
    int through = passed.getAndSet(0);
    long fastest = (long) (SECOND / maxPerSecond);
    if (refused > 0 && refused * 10L >= refused + through) {
      intervalNanos.updateAndGet(i -> Math.min(fastest * 64, i * 2));
    } else if (refused == 0 && through > 0 && intervalNanos.get() > fastest) {
      double step = Math.max(maxPerSecond / 20, Math.min(1, maxPerSecond));
      intervalNanos.updateAndGet(i -> Math.max(fastest, (long) (SECOND / ((double) SECOND / i + step))));
    }
  }
}
