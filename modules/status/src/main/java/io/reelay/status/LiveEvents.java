package io.reelay.status;

import io.reelay.protocol.Event;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.QueueOfferResult;
import org.apache.pekko.stream.javadsl.Source;

/**
 * The live half of {@code GET /v1/requests/{id}/events} on the instance that owns the request: SSE
 * subscribers of each request key, fed by the status processor right after it stored an event.
 *
 * <p>A subscriber gets the kept history with {@code seq} above its resume point, then live events,
 * each once and in order, and its stream completes after the terminal event. Subscribing reads the
 * stored history and registers under the same lock the processor publishes under; an event stored
 * just before it registered is then seen twice and dropped by {@code seq}. When this instance stops
 * owning a partition (rebalance, shutdown) its subscribers' streams complete, and the clients resume
 * with {@code Last-Event-ID} wherever the request lives now.
 */
final class LiveEvents {

  private final int liveBuffer;
  private final Map<String, List<Follower>> followers = new HashMap<>();
  private int count;
  private boolean closed;

  private static final class Follower {
    final BoundedSourceQueue<Event> queue;
    final int partition;
    long lastSeq;

    Follower(BoundedSourceQueue<Event> queue, int partition, long lastSeq) {
      this.queue = queue;
      this.partition = partition;
      this.lastSeq = lastSeq;
    }
  }

  /** @param liveBuffer live events buffered per subscriber before a slow one is failed */
  LiveEvents(int liveBuffer) {
    this.liveBuffer = liveBuffer;
  }

  /**
   * The events of {@code key} with {@code seq > afterSeq}: what {@code stored} holds, then live ones.
   *
   * @param partition the events partition of the key (its subscribers end when it moves away)
   * @param stored the request as stored now (null: not yet)
   * @param waitForFirst whether to wait for a request not stored yet (it was just submitted);
   *     otherwise such a stream completes at once
   * @param maxHistory the most events {@code stored} can hold
   */
  Source<Event, NotUsed> follow(
      String key, int partition, long afterSeq, Supplier<StoredRequest> stored, boolean waitForFirst, int maxHistory) {
    return Source.<Event>queue(maxHistory + liveBuffer)
        .mapMaterializedValue(q -> subscribe(key, partition, afterSeq, stored, waitForFirst, q))
        .watchTermination(
            (f, done) -> {
              done.whenComplete((d, t) -> unsubscribe(key, f));
              return NotUsed.getInstance();
            });
  }

  /** Hands a just-stored event to the key's subscribers. */
  synchronized void publish(String key, Event event) {
    List<Follower> list = followers.get(key);
    if (list == null) {
      return;
    }
    Iterator<Follower> it = list.iterator();
    while (it.hasNext()) {
      Follower f = it.next();
      if (event.seq() <= f.lastSeq) {
        continue;
      }
      QueueOfferResult r = f.queue.offer(event);
      f.lastSeq = event.seq();
      if (r != QueueOfferResult.enqueued()) {
        if (r == QueueOfferResult.dropped()) {
          f.queue.fail(new IllegalStateException("subscriber is too slow; resume with Last-Event-ID"));
        }
        it.remove();
        count--;
      } else if (event.isTerminal()) {
        f.queue.complete();
        it.remove();
        count--;
      }
    }
    if (list.isEmpty()) {
      followers.remove(key);
    }
  }

  /** Completes the streams of the keys in {@code partition}: this instance no longer owns it. */
  synchronized void partitionMoved(int partition) {
    Iterator<Map.Entry<String, List<Follower>>> entries = followers.entrySet().iterator();
    while (entries.hasNext()) {
      List<Follower> list = entries.next().getValue();
      list.removeIf(
          f -> {
            if (f.partition != partition) {
              return false;
            }
            f.queue.complete();
            count--;
            return true;
          });
      if (list.isEmpty()) {
        entries.remove();
      }
    }
  }

  /** Live subscribers now. */
  synchronized int count() {
    return count;
  }

  /** Ends every live subscription (server stop); later subscriptions end at once. */
  synchronized void close() {
    closed = true;
    followers.values().forEach(list -> list.forEach(f -> f.queue.complete()));
    followers.clear();
    count = 0;
  }

  private synchronized Follower subscribe(
      String key, int partition, long afterSeq, Supplier<StoredRequest> storedNow, boolean waitForFirst,
      BoundedSourceQueue<Event> q) {
    Follower f = new Follower(q, partition, afterSeq);
    if (closed) {
      q.complete();
      return f;
    }
    StoredRequest stored = storedNow.get();
    if (stored == null && !waitForFirst) {
      q.complete();
      return f;
    }
    if (stored != null) {
      for (Event past : stored.history()) {
        if (past.seq() > f.lastSeq) {
          q.offer(past); // fits: the queue holds a full history plus the live buffer
          f.lastSeq = past.seq();
        }
      }
      if (stored.latest().isTerminal()) {
        q.complete();
        return f;
      }
    }
    followers.computeIfAbsent(key, k -> new ArrayList<>(1)).add(f);
    count++;
    return f;
  }

  private synchronized void unsubscribe(String key, Follower f) {
    List<Follower> list = followers.get(key);
    if (list != null && list.remove(f)) {
      count--;
      if (list.isEmpty()) {
        followers.remove(key);
      }
    }
  }
}
