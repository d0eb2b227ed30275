package io.reelay.status;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * Runs asynchronous tasks at most {@code limit} at a time per destination; the others wait, in
 * order, in that destination's own queue. A destination that never answers therefore only ever
 * holds its own lane: tasks for other destinations start at once. Lanes exist only while they have
 * work, so memory follows the destinations in use, not every destination ever seen.
 */
final class DestinationLanes {

  private static final class Lane {
    int running;
    final ArrayDeque<Runnable> waiting = new ArrayDeque<>();
  }

  private final int limit;
  private final Executor executor;
  private final Map<String, Lane> lanes = new HashMap<>();

  /** @param executor where a waiting task starts once a slot frees (never on the finishing task's stack) */
  DestinationLanes(int limit, Executor executor) {
    if (limit < 1) {
      throw new IllegalArgumentException("a lane runs at least one task at a time");
    }
    this.limit = limit;
    this.executor = executor;
  }

  /** Runs {@code task} in the lane of {@code destination}: now if the lane has a free slot, else after those before it. */
  <T> CompletionStage<T> run(String destination, Supplier<? extends CompletionStage<T>> task) {
    CompletableFuture<T> result = new CompletableFuture<>();
    Runnable start = () -> {
      CompletionStage<T> running;
      try {
        running = task.get();
      } catch (RuntimeException e) {
        running = CompletableFuture.failedFuture(e);
      }
      running.whenComplete((value, error) -> {
        release(destination);
        if (error != null) {
          result.completeExceptionally(error);
        } else {
          result.complete(value);
        }
      });
    };
    boolean now;
    synchronized (this) {
      Lane lane = lanes.computeIfAbsent(destination, k -> new Lane());
      now = lane.running < limit;
      if (now) {
        lane.running++;
      } else {
        lane.waiting.add(start);
      }
    }
    if (now) {
      start.run();
    }
    return result;
  }

  private void release(String destination) {
    Runnable next;
    synchronized (this) {
      Lane lane = lanes.get(destination);
      next = lane.waiting.poll(); // the freed slot goes to the next task of the same lane
      if (next == null && --lane.running == 0) {
        lanes.remove(destination);
      }
    }
    if (next != null) {
      executor.execute(next);
    }
  }
}
