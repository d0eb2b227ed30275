package io.reelay.worker;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The worker's bound on requests in hand: an asynchronous semaphore. A partition's stream waits on
 * {@link #acquire()} before it hands a request on, so at the limit it stops pulling and the Kafka
 * consumer pauses that partition: back-pressure instead of an ever-growing queue.
 */
final class Capacity {

  private final int max;
  private int inUse;
  private final Deque<CompletableFuture<Void>> waiting = new ArrayDeque<>();

  Capacity(int max) {
    if (max < 1) {
      throw new IllegalArgumentException("max-active-requests must be at least 1, was " + max);
    }
    this.max = max;
  }

  /** Completes once a slot is free (at once if one is); waiters are served in arrival order. */
  synchronized CompletionStage<Void> acquire() {
    if (inUse < max) {
      inUse++;
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Void> f = new CompletableFuture<>();
    waiting.add(f);
    return f;
  }

  /** Frees a slot taken by {@link #acquire()}, handing it straight to the longest waiter. */
  void release() {
    CompletableFuture<Void> next;
    synchronized (this) {
      next = waiting.poll();
      if (next == null) {
        inUse--;
        return;
      }
    }
    next.complete(null); // outside the lock: it runs the waiter's continuation
  }

  synchronized int inUse() {
    return inUse;
  }
}
