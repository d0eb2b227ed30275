package io.reelay.sim;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A render job (E8). Its status is a pure function of the clock and of its file: pending for the
 * first tenth of the simulated render time, then processing with rising progress, then completed
 * once the time is up <em>and</em> the MP4 exists (never earlier), or failed.
 */
final class RenderJob {

  enum Status { PENDING, PROCESSING, COMPLETED, FAILED;
    String wire() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  record View(String id, Status status, int progress, long createdAt, Optional<Long> completedAt, Optional<String> error) {}

  final String id;
  final String sessionId;
  final String ownerUserId;
  final long createdAt;
  final long renderMillis;
  final long durationMs;
  final String title;
  final CompletableFuture<Path> file;
  private final boolean failsByFault;
  private final AtomicBoolean cancelled = new AtomicBoolean();
  private final AtomicBoolean completionCounted = new AtomicBoolean();
  private final AtomicInteger polls = new AtomicInteger();
  private final AtomicLong seenCompletedAt = new AtomicLong(-1);
  private volatile long fileReadyAt;

  RenderJob(String id, String sessionId, String ownerUserId, long createdAt, long renderMillis, long durationMs,
      String title, CompletableFuture<Path> file, boolean failsByFault) {
    this.id = id;
    this.sessionId = sessionId;
    this.ownerUserId = ownerUserId;
    this.createdAt = createdAt;
    this.renderMillis = renderMillis;
    this.durationMs = durationMs;
    this.title = title;
    this.file = file;
    this.failsByFault = failsByFault;
    file.whenComplete((p, e) -> fileReadyAt = System.currentTimeMillis());
  }

  /** Cancels a job still running; false when it already ended. */
  boolean cancel(long now) {
    Status s = view(now).status();
    return (s == Status.PENDING || s == Status.PROCESSING) && cancelled.compareAndSet(false, true);
  }

  View view(long now) {
    long elapsed = now - createdAt;
    if (cancelled.get()) return failed("cancelled", now);
    if (file.isCompletedExceptionally()) return failed("render failed: encoder error", fileReadyAt);
    if (elapsed < renderMillis / 10) return new View(id, Status.PENDING, 5, createdAt, Optional.empty(), Optional.empty());
    if (elapsed >= renderMillis && failsByFault) return failed("render failed: lambda timed out", createdAt + renderMillis);
    if (elapsed >= renderMillis && file.isDone()) {
      return new View(id, Status.COMPLETED, 100, createdAt, Optional.of(Math.max(createdAt + renderMillis, fileReadyAt)),
          Optional.empty());
    }
    int progress = (int) Math.min(95, 5 + 90 * elapsed / Math.max(1, renderMillis));
    return new View(id, Status.PROCESSING, progress, createdAt, Optional.empty(), Optional.empty());
  }

  /** True exactly once, the first time the job is seen completed (for the stats). */
  boolean firstSeenCompleted() {
    return completionCounted.compareAndSet(false, true);
  }

  /** Counts an answered poll (E9) that showed {@code v} at {@code now}; the first one showing it completed is kept. */
  void polled(View v, long now) {
    polls.incrementAndGet();
    if (v.status() == Status.COMPLETED) seenCompletedAt.compareAndSet(-1, now);
  }

  /** Polls (E9) answered for this job. */
  int polls() {
    return polls.get();
  }

  /** When a poll first answered this job completed (epoch ms), if one did. */
  Optional<Long> seenCompletedAt() {
    long at = seenCompletedAt.get();
    return at < 0 ? Optional.empty() : Optional.of(at);
  }

  private View failed(String error, long at) {
    return new View(id, Status.FAILED, 100, createdAt, Optional.of(at), Optional.of(error));
  }
}
