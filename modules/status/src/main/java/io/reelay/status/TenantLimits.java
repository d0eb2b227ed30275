package io.reelay.status;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

/**
 * What one tenant may hold of the status service at once, so that one API key cannot take it from
 * everyone else: live event streams (per tenant and in all) and submits per second (a token bucket
 * per tenant). Thread-safe; the clock is injected so the bucket's decisions can be tested tick by
 * tick.
 */
final class TenantLimits {

  /** {@code reelay.status.limits}. */
  record Settings(long maxBodyBytes, int watchersPerTenant, int watchers, double submitsPerSecond, int submitBurst) {
    Settings {
      if (maxBodyBytes < 1 || watchersPerTenant < 1 || watchers < 1 || submitsPerSecond <= 0 || submitBurst < 1) {
        throw new IllegalArgumentException("reelay.status.limits: every limit must be positive");
      }
    }
  }

  /** A live stream's slot: released once, however often {@link #release} is called. */
  static final class Watch {
    private final TenantLimits limits;
    private final String tenant;
    private final AtomicBoolean released = new AtomicBoolean();

    private Watch(TenantLimits limits, String tenant) {
      this.limits = limits;
      this.tenant = tenant;
    }

    void release() {
      if (released.compareAndSet(false, true)) {
        limits.unwatch(tenant);
      }
    }
  }

  private final Settings settings;
  private final LongSupplier nanos;
  private final Map<String, Integer> watching = new HashMap<>();
  private int watchingAll;
  // per tenant: when its submit bucket is full again (the theoretical arrival time of GCRA)
  private final Map<String, Long> fullAt = new HashMap<>();

  TenantLimits(Settings settings) {
    this(settings, System::nanoTime);
  }

  TenantLimits(Settings settings, LongSupplier nanos) {
    this.settings = settings;
    this.nanos = nanos;
  }

  Settings settings() {
    return settings;
  }

  /** A slot for one more live stream of {@code tenant}, or null when it (or the service) holds as many as allowed. */
  synchronized Watch watch(String tenant) {
    int mine = watching.getOrDefault(tenant, 0);
    if (mine >= settings.watchersPerTenant() || watchingAll >= settings.watchers()) {
      return null;
    }
    watching.put(tenant, mine + 1);
    watchingAll++;
    return new Watch(this, tenant);
  }

  /** Why {@link #watch} refused {@code tenant}: for the 429's message. */
  synchronized String watchRefusal(String tenant) {
    return watching.getOrDefault(tenant, 0) >= settings.watchersPerTenant()
        ? "this API key's tenant has " + settings.watchersPerTenant() + " live event streams open, the most allowed"
            + " (reelay.status.limits.sse-watchers-per-tenant); close one, or poll GET /v1/requests/{id}"
        : "the service holds " + settings.watchers() + " live event streams, the most allowed"
            + " (reelay.status.limits.sse-watchers); try again shortly, or poll GET /v1/requests/{id}";
  }

  synchronized int watching(String tenant) {
    return watching.getOrDefault(tenant, 0);
  }

  private synchronized void unwatch(String tenant) {
    watching.computeIfPresent(tenant, (k, n) -> n <= 1 ? null : n - 1);
    watchingAll--;
  }

  /**
   * Takes one submit token of {@code tenant}: {@link Duration#ZERO} when granted, otherwise how
   * long until the next token (nothing is taken then). A token bucket in its exact integer form
   * (GCRA): each tenant has the time its bucket will be full again, and a submit is granted while
   * that is at most {@code submit-burst - 1} intervals ahead.
   */
  synchronized Duration submit(String tenant) {
    long now = nanos.getAsLong();
    long interval = (long) Math.ceil(1e9 / settings.submitsPerSecond());
    long tolerance = interval * (settings.submitBurst() - 1);
    long full = Math.max(fullAt.getOrDefault(tenant, now), now);
    if (full - now > tolerance) {
      return Duration.ofNanos(full - now - tolerance);
    }
    fullAt.put(tenant, full + interval);
    return Duration.ZERO;
  }
}
