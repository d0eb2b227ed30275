package io.reelay.nemo;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.ActorSystem;

/**
 * A non-blocking, lock-free call-rate limiter (an evenly spaced token bucket with a burst), one
 * per backend host per JVM so that every client of a worker shares it. A fleet of N workers calls
 * at most N × {@code calls-per-second}.
 */
final class RateLimiter {

  private static final ConcurrentHashMap<String, RateLimiter> PER_HOST = new ConcurrentHashMap<>();

  private final long intervalNanos;
  private final long burstNanos;
  private final AtomicLong nextFree;
  private final ActorSystem system;

  private RateLimiter(ActorSystem system, double perSecond, int burst) {
    this.system = system;
    this.intervalNanos = (long) (1_000_000_000L / perSecond);
    this.burstNanos = intervalNanos * Math.max(1, burst);
    this.nextFree = new AtomicLong(System.nanoTime() - burstNanos); // starts with a full burst
  }

  /** The limiter of {@code host}, created on first use; {@code perSecond <= 0} means unlimited (null). */
  static RateLimiter forHost(ActorSystem system, String host, double perSecond, int burst) {
    if (perSecond <= 0) {
      return null;
    }
    return PER_HOST.computeIfAbsent(host + "@" + perSecond + "/" + burst, k -> new RateLimiter(system, perSecond, burst));
  }

  /** Completes when the caller may make one call. */
  CompletionStage<Void> acquire() {
    long now = System.nanoTime();
    long slot;
    while (true) {
      long next = nextFree.get();
      // unused capacity accumulates up to the burst, no further
      slot = Math.max(next, now - burstNanos + intervalNanos);
      if (nextFree.compareAndSet(next, slot + intervalNanos)) {
        break;
      }
    }
    long wait = slot - now;
    if (wait <= 0) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Void> f = new CompletableFuture<>();
    system.scheduler().scheduleOnce(Duration.ofNanos(wait), () -> f.complete(null), system.dispatcher());
    return f;
  }
}
