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

  /**
   * What one in-flight session with its agent stream open holds of the heap: the actor, the
   * session's memory, the stream's connection and buffers. Measured 39.7 KB per session at 15,000
   * on one worker (loadtest/reports/capacity.md), rounded up.
   */
  static final long SESSION_BYTES = 40 * 1024;
  /** The share of the max heap that {@code auto} gives to sessions; the rest is headroom for the collector and bursts. */
  static final double HEAP_SHARE = 0.6;
  /** Open files a worker needs besides one socket per stream: Kafka, its HTTP endpoints, jars, logs. */
  static final long FILES_RESERVED = 1024;

  /**
   * {@code max-active-requests = auto}: as many sessions as {@link #HEAP_SHARE} of the max heap
   * holds at {@link #SESSION_BYTES} each, and no more than the open-file limit leaves room for
   * (each holds a socket, as do the call pool's connections) or the stream pool has connections for.
   *
   * @param maxHeapBytes {@link Runtime#maxMemory()}
   * @param openFiles the process's open-file limit, {@link Long#MAX_VALUE} when unknown
   * @param streamConnections {@code reelay.nemo.max-connections}: one per open agent stream
   * @param callConnections {@code reelay.nemo.calls.max-connections}
   */
  static int auto(long maxHeapBytes, long openFiles, int streamConnections, int callConnections) {
    long byHeap = (long) (maxHeapBytes * HEAP_SHARE / SESSION_BYTES);
    long byFiles = openFiles == Long.MAX_VALUE ? Long.MAX_VALUE : openFiles - FILES_RESERVED - callConnections;
    return (int) Math.max(1, Math.min(Math.min(byHeap, byFiles), streamConnections));
  }

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
