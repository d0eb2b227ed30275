package io.reelay.status;

import com.fasterxml.jackson.annotation.JsonIgnore;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.Request;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * What the requests store holds for one request (the value under {@link Listing#requestKey}): its
 * kept events in {@code seq} order, the last of them its latest status, plus when it was last
 * updated and how many events it had in all. Immutable; {@link #with} makes the next version.
 *
 * <p>The history is bounded twice: by count ({@code max-history-per-request}) and by encoded size
 * ({@code max-history-bytes}, so one chatty request can never make a record the changelog refuses).
 * The oldest events go first; the latest is always kept.
 */
record StoredRequest(Instant updatedAt, int eventCount, List<Event> history) {

  StoredRequest {
    history = List.copyOf(history);
    if (history.isEmpty()) {
      throw new IllegalArgumentException("a stored request has at least its latest event");
    }
  }

  /** The latest event (the last one kept). */
  @JsonIgnore
  Event latest() {
    return history.get(history.size() - 1);
  }

  @JsonIgnore
  RequestStatus status() {
    return new RequestStatus(latest(), updatedAt, eventCount);
  }

  /** The first version of a request, from its first event. */
  static StoredRequest first(Event event, Instant receivedAt) {
    return new StoredRequest(updatedAt(event, receivedAt), 1, List.of(event));
  }

  /**
   * The next version with {@code event} added, or null when it is a duplicate or out of order
   * ({@code seq} not above the latest one: at-least-once delivery, a replayed partition).
   */
  StoredRequest with(Event event, Instant receivedAt, int maxHistory) {
    if (event.seq() <= latest().seq()) {
      return null;
    }
    List<Event> kept = new ArrayList<>(Math.min(history.size() + 1, maxHistory));
    int from = Math.max(0, history.size() + 1 - maxHistory);
    for (int i = from; i < history.size(); i++) {
      kept.add(history.get(i));
    }
    kept.add(event);
    return new StoredRequest(updatedAt(event, receivedAt), eventCount + 1, kept);
  }

  /** The stored form: JSON, with the oldest events dropped until it fits in {@code maxBytes}. */
  byte[] toBytes(int maxBytes) {
    StoredRequest r = this;
    byte[] bytes = Json.bytes(r);
    while (bytes.length > maxBytes && r.history.size() > 1) {
      int drop = Math.max(1, r.history.size() / 4);
      r = new StoredRequest(updatedAt, eventCount, r.history.subList(drop, r.history.size()));
      bytes = Json.bytes(r);
    }
    return bytes;
  }

  static StoredRequest fromBytes(byte[] bytes) {
    try {
      return Json.mapper().readValue(bytes, StoredRequest.class);
    } catch (IOException e) {
      throw new UncheckedIOException("unreadable stored request", e);
    }
  }

  private static Instant updatedAt(Event event, Instant receivedAt) {
    return event.at() != null ? event.at() : receivedAt;
  }

  static String tenantOf(Event e) {
    return e.tenant() == null || e.tenant().isBlank() ? Request.DEFAULT_TENANT : e.tenant();
  }
}
