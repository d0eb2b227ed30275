package io.reelay.status;

import io.reelay.protocol.Event;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestState;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
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
 * <p>A request is known by its tenant and its requestId ({@link Key}): two tenants may use the same
 * requestId, and each sees only its own request. Events with a {@code seq} at or below the last one
 * seen for their request are duplicates or out of order (at-least-once delivery, a rebuilt stream)
 * and are ignored. Listings read a per-tenant (and per-session) index, most recently updated first,
 * so one tenant's listing never scans another's requests. Memory is bounded: past {@code
 * maxRequests} the oldest finished requests are evicted first.
 */
public final class StatusView {

  private static final Logger log = LoggerFactory.getLogger(StatusView.class);

  /** What {@link #apply} did with an event. */
  public enum Applied {
    NEW,
    UPDATED,
    IGNORED
  }

  /** Which request: requestIds are chosen by tenants, so they are unique only within a tenant. */
  public record Key(String tenant, String requestId) {
    static Key of(Event e) {
      return new Key(tenantOf(e), e.requestId());
    }
  }

  /** A session of a tenant (session keys too are the tenant's own). */
  private record SessionOf(String tenant, String sessionKey) {}

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
    final Key key;
    final ArrayDeque<Event> history = new ArrayDeque<>();
    final List<BoundedSourceQueue<Event>> followers = new ArrayList<>(1);
    Event latest;
    Instant updatedAt;
    long touched;
    int eventCount;

    Entry(Key key) {
      this.key = key;
    }
  }

  private final int maxHistoryPerRequest;
  private final int maxRequests;
  private final int liveBuffer;

  private final Map<Key, Entry> entries = new LinkedHashMap<>();
  private final Set<Key> finishedOrder = new LinkedHashSet<>();
  // the listing indexes: each request under its last touch, per tenant and per session
  private final Map<String, TreeMap<Long, Entry>> byTenant = new HashMap<>();
  private final Map<SessionOf, TreeMap<Long, Entry>> bySession = new HashMap<>();
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
    Key key = Key.of(event);
    Entry e = entries.get(key);
    boolean isNew = e == null;
    if (isNew) {
      e = new Entry(key);
      entries.put(key, e);
    } else if (event.seq() <= e.latest.seq()) {
      return Applied.IGNORED;
    } else {
      decrement(e.latest.state());
      unindex(e);
      if (e.latest.isTerminal()) {
        finishedOrder.remove(key);
      }
    }
    e.latest = event;
    e.updatedAt = event.at() != null ? event.at() : receivedAt;
    e.touched = ++clock;
    index(e);
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
      finishedOrder.add(key);
    }
    if (isNew) {
      evictIfFull();
    }
    return isNew ? Applied.NEW : Applied.UPDATED;
  }

  /** The latest status of a tenant's request, if known. */
  public synchronized Optional<RequestStatus> status(String tenant, String requestId) {
    Entry e = entries.get(new Key(tenant, requestId));
    return e == null ? Optional.empty() : Optional.of(new RequestStatus(e.latest, e.updatedAt, e.eventCount));
  }

  /** The kept events of a tenant's request, in {@code seq} order. */
  public synchronized List<Event> history(String tenant, String requestId) {
    Entry e = entries.get(new Key(tenant, requestId));
    return e == null ? List.of() : List.copyOf(e.history);
  }

  /**
   * The requests of a tenant, most recently updated first.
   *
   * @param session only this session's requests when not null
   * @param state only requests whose latest state is this one when not null
   */
  public synchronized List<RequestStatus> list(String tenant, String session, RequestState state, int limit) {
    TreeMap<Long, Entry> index = session != null ? bySession.get(new SessionOf(tenant, session)) : byTenant.get(tenant);
    if (index == null) {
      return List.of();
    }
    List<RequestStatus> out = new ArrayList<>(Math.min(limit, index.size()));
    for (Entry e : index.descendingMap().values()) {
      if (out.size() >= limit) {
        break;
      }
      if (state == null || state == e.latest.state()) {
        out.add(new RequestStatus(e.latest, e.updatedAt, e.eventCount));
      }
    }
    return out;
  }

  /**
   * The events of a request with {@code seq > afterSeq}: the kept history first, then live ones;
   * completes after the terminal event. Materialize it once per subscriber. A subscriber that
   * falls more than the live buffer behind is failed (it resumes from its last seen {@code seq}).
   */
  public Source<Event, NotUsed> follow(String tenant, String requestId, long afterSeq) {
    Key key = new Key(tenant, requestId);
    return Source.<Event>queue(maxHistoryPerRequest + liveBuffer)
        .mapMaterializedValue(q -> subscribe(key, afterSeq, q))
        .watchTermination(
            (q, done) -> {
              done.whenComplete((d, t) -> unsubscribe(key, q));
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

  private synchronized BoundedSourceQueue<Event> subscribe(Key key, long afterSeq, BoundedSourceQueue<Event> q) {
    Entry e = entries.get(key);
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

  private synchronized void unsubscribe(Key key, BoundedSourceQueue<Event> q) {
    Entry e = entries.get(key);
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
      Key victim;
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

  private void remove(Key key) {
    Entry e = entries.remove(key);
    finishedOrder.remove(key);
    if (e == null) {
      return;
    }
    decrement(e.latest.state());
    unindex(e);
    for (BoundedSourceQueue<Event> q : e.followers) {
      q.fail(new IllegalStateException("request evicted from the status view"));
    }
    followerCount -= e.followers.size();
  }

  private void index(Entry e) {
    byTenant.computeIfAbsent(e.key.tenant(), k -> new TreeMap<>()).put(e.touched, e);
    if (e.latest.sessionKey() != null) {
      bySession.computeIfAbsent(new SessionOf(e.key.tenant(), e.latest.sessionKey()), k -> new TreeMap<>()).put(e.touched, e);
    }
  }

  private void unindex(Entry e) {
    unindex(byTenant, e.key.tenant(), e.touched);
    if (e.latest.sessionKey() != null) {
      unindex(bySession, new SessionOf(e.key.tenant(), e.latest.sessionKey()), e.touched);
    }
  }

  private static <K> void unindex(Map<K, TreeMap<Long, Entry>> index, K k, long touched) {
    TreeMap<Long, Entry> m = index.get(k);
    if (m != null) {
      m.remove(touched);
      if (m.isEmpty()) {
        index.remove(k);
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
