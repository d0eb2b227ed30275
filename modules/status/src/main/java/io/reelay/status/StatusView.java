package io.reelay.status;

import io.reelay.protocol.Event;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestState;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.QueueOfferResult;
import org.apache.pekko.stream.javadsl.Source;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The queryable view of {@code reelay.events}: the latest status and the ordered history of every
 * request, plus live subscriptions for SSE. Fed by one writer (the events stream), read by many
 * HTTP requests; every method is thread-safe (one lock, held briefly, never across I/O).
 *
 * <p>Events with a {@code seq} at or below the last one seen for their request are duplicates or
 * out of order (at-least-once delivery, a rebuilt stream) and are ignored. Memory is bounded: past
 * {@code maxRequests} the oldest finished requests are evicted first.
 */
public final class StatusView {

  private static final Logger log = LoggerFactory.getLogger(StatusView.class);

  /** What {@link #apply} did with an event. */
  public enum Applied {
    NEW,
    UPDATED,
    IGNORED
  }

  /** The latest status of one request: its last event and when that happened. */
  public record RequestStatus(Event latest, Instant updatedAt, int eventCount) {
    public String requestId() {
      return latest.requestId();
    }

    public String tenant() {
      return tenantOf(latest);
    }
  }

  private static final class Entry {
    final ArrayDeque<Event> history = new ArrayDeque<>();
    final List<BoundedSourceQueue<Event>> followers = new ArrayList<>(1);
    Event latest;
    Instant updatedAt;
    long touched;
    int eventCount;
  }

  private final int maxHistoryPerRequest;
  private final int maxRequests;
  private final int liveBuffer;

  private final Map<String, Entry> entries = new LinkedHashMap<>();
  private final Set<String> finishedOrder = new LinkedHashSet<>();
  private final Map<String, Set<String>> bySession = new HashMap<>();
  private final EnumMap<RequestState, Integer> stateCounts = new EnumMap<>(RequestState.class);
  private long clock;
  private long unfinishedEvictions;
  private int followerCount;
  private boolean closed;

  /**
   * @param maxHistoryPerRequest events kept per request
   * @param maxRequests requests kept in memory
   * @param liveBuffer live events buffered per follower before a slow follower is failed
   */
  public StatusView(int maxHistoryPerRequest, int maxRequests, int liveBuffer) {
    this.maxHistoryPerRequest = maxHistoryPerRequest;
    this.maxRequests = maxRequests;
    this.liveBuffer = liveBuffer;
  }

  public static StatusView create(StatusSettings s) {
    return new StatusView(s.maxHistoryPerRequest(), s.maxRequests(), s.sseBuffer());
  }

  /**
   * Adds one event. {@code receivedAt} stands in for {@code updatedAt} when the event carries no
   * {@code at}.
   */
  public synchronized Applied apply(Event event, Instant receivedAt) {
    if (event == null || event.requestId() == null || event.requestId().isBlank()) {
      return Applied.IGNORED;
    }
    Entry e = entries.get(event.requestId());
    boolean isNew = e == null;
    if (isNew) {
      e = new Entry();
    } else if (event.seq() <= e.latest.seq()) {
      return Applied.IGNORED;
    }
    if (isNew) {
      entries.put(event.requestId(), e);
      if (event.sessionKey() != null) {
        bySession.computeIfAbsent(event.sessionKey(), k -> new LinkedHashSet<>()).add(event.requestId());
      }
    } else {
      decrement(e.latest.state());
      if (e.latest.isTerminal()) {
        finishedOrder.remove(event.requestId());
      }
    }
    e.latest = event;
    e.updatedAt = event.at() != null ? event.at() : receivedAt;
    e.touched = ++clock;
    e.eventCount++;
    e.history.addLast(event);
    while (e.history.size() > maxHistoryPerRequest) {
      e.history.removeFirst();
    }
    if (event.state() != null) {
      stateCounts.merge(event.state(), 1, Integer::sum);
    }
    publish(e, event);
    if (event.isTerminal()) {
      finishedOrder.add(event.requestId());
    }
    if (isNew) {
      evictIfFull();
    }
    return isNew ? Applied.NEW : Applied.UPDATED;
  }

  /** The latest status of a request, if known. */
  public synchronized Optional<RequestStatus> status(String requestId) {
    Entry e = entries.get(requestId);
    return e == null ? Optional.empty() : Optional.of(new RequestStatus(e.latest, e.updatedAt, e.eventCount));
  }

  /** The kept events of a request, in {@code seq} order. */
  public synchronized List<Event> history(String requestId) {
    Entry e = entries.get(requestId);
    return e == null ? List.of() : List.copyOf(e.history);
  }

  /**
   * The requests of a tenant, most recently updated first.
   *
   * @param session only this session's requests when not null
   * @param state only requests whose latest state is this one when not null
   */
  public synchronized List<RequestStatus> list(String tenant, String session, RequestState state, int limit) {
    Iterable<String> ids;
    if (session != null) {
      ids = bySession.getOrDefault(session, Set.of());
    } else {
      ids = entries.keySet();
    }
    List<Entry> hits = new ArrayList<>();
    for (String id : ids) {
      Entry e = entries.get(id);
      if (e != null && tenantOf(e.latest).equals(tenant) && (state == null || state == e.latest.state())) {
        hits.add(e);
      }
    }
    hits.sort(Comparator.comparingLong((Entry x) -> x.touched).reversed());
    List<RequestStatus> out = new ArrayList<>(Math.min(limit, hits.size()));
    for (int i = 0; i < hits.size() && i < limit; i++) {
      Entry e = hits.get(i);
      out.add(new RequestStatus(e.latest, e.updatedAt, e.eventCount));
    }
    return out;
  }

  /**
   * The events of a request with {@code seq > afterSeq}: the kept history first, then live ones;
   * completes after the terminal event. Materialize it once per subscriber. A subscriber that
   * falls more than the live buffer behind is failed (it resumes from its last seen {@code seq}).
   */
  public Source<Event, NotUsed> follow(String requestId, long afterSeq) {
    return Source.<Event>queue(maxHistoryPerRequest + liveBuffer)
        .mapMaterializedValue(q -> subscribe(requestId, afterSeq, q))
        .watchTermination(
            (q, done) -> {
              done.whenComplete((d, t) -> unsubscribe(requestId, q));
              return NotUsed.getInstance();
            });
  }

  public synchronized int size() {
    return entries.size();
  }

  /** How many known requests are in this state now. */
  public synchronized int count(RequestState state) {
    return stateCounts.getOrDefault(state, 0);
  }

  /** Live SSE subscribers. */
  public synchronized int followers() {
    return followerCount;
  }

  /** Ends every live subscription (server stop); later subscriptions end at once. */
  public synchronized void close() {
    closed = true;
    for (Entry e : entries.values()) {
      for (BoundedSourceQueue<Event> q : e.followers) {
        q.complete();
      }
      followerCount -= e.followers.size();
      e.followers.clear();
    }
  }

  private synchronized BoundedSourceQueue<Event> subscribe(String requestId, long afterSeq, BoundedSourceQueue<Event> q) {
    Entry e = entries.get(requestId);
    if (e == null || closed) {
      q.complete();
      return q;
    }
    for (Event past : e.history) {
      if (past.seq() > afterSeq) {
        q.offer(past); // fits: the queue holds a full history plus the live buffer
      }
    }
    if (e.latest.isTerminal()) {
      q.complete();
    } else {
      e.followers.add(q);
      followerCount++;
    }
    return q;
  }

  private synchronized void unsubscribe(String requestId, BoundedSourceQueue<Event> q) {
    Entry e = entries.get(requestId);
    if (e != null && e.followers.remove(q)) {
      followerCount--;
    }
  }

  private void publish(Entry e, Event event) {
    if (e.followers.isEmpty()) {
      return;
    }
    Iterator<BoundedSourceQueue<Event>> it = e.followers.iterator();
    while (it.hasNext()) {
      BoundedSourceQueue<Event> q = it.next();
      QueueOfferResult r = q.offer(event);
      if (r != QueueOfferResult.enqueued()) {
        if (r == QueueOfferResult.dropped()) {
          q.fail(new IllegalStateException("subscriber is too slow; resume with Last-Event-ID"));
        }
        it.remove();
        followerCount--;
      } else if (event.isTerminal()) {
        q.complete();
        it.remove();
        followerCount--;
      }
    }
  }

  private void evictIfFull() {
    while (entries.size() > maxRequests) {
      String victim;
      if (!finishedOrder.isEmpty()) {
        victim = finishedOrder.iterator().next();
      } else {
        victim = entries.keySet().iterator().next();
        if (unfinishedEvictions++ % 1000 == 0) {
          log.warn("status view is full of unfinished requests ({}); evicting the oldest ones (raise reelay.status.max-requests)", maxRequests);
        }
      }
      remove(victim);
    }
  }

  private void remove(String requestId) {
    Entry e = entries.remove(requestId);
    finishedOrder.remove(requestId);
    if (e == null) {
      return;
    }
    decrement(e.latest.state());
    for (BoundedSourceQueue<Event> q : e.followers) {
      q.fail(new IllegalStateException("request evicted from the status view"));
    }
    followerCount -= e.followers.size();
    String session = e.latest.sessionKey();
    if (session != null) {
      Set<String> ids = bySession.get(session);
      if (ids != null) {
        ids.remove(requestId);
        if (ids.isEmpty()) {
          bySession.remove(session);
        }
      }
    }
  }

  private void decrement(RequestState state) {
    if (state != null) {
      stateCounts.computeIfPresent(state, (k, n) -> n <= 1 ? null : n - 1);
    }
  }

  static String tenantOf(Event e) {
    return e.tenant() == null || e.tenant().isBlank() ? Request.DEFAULT_TENANT : e.tenant();
  }
}
