package io.reelay.worker;

import io.opentelemetry.context.Context;
import io.reelay.protocol.Event;
import io.reelay.protocol.SessionSnapshot;
import io.reelay.protocol.SessionSnapshot.InFlight;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * What a session remembers across requests, owners and incarnations: its latest snapshot. Every
 * change is written at once to the compacted sessions topic, into the partition the session's
 * requests come from, and what was last written is what a restarted actor begins from.
 *
 * <p>Shared by the registry (which answers requests delivered again, and records requests that end
 * without the actor) and the session's actor (which records each step). Each change is a new
 * snapshot made from the last one, stored and handed to the producer under one lock, so the topic
 * receives the snapshots in the order they were made and no change overwrites another.
 */
final class SessionMemory {

  /** The one cap on remembered request ids; older finished requests are known by done-through. */
  static final int REMEMBERED = 50;

  /** Who the session is on the backend, as a snapshot carries it (the token only encrypted). */
  record Identity(String clientId, String userId, String backendSessionId, String taskId, String language,
      String encryptedToken, Instant tokenExpiresAt) {

    static Identity of(SessionSnapshot s) {
      return new Identity(s.clientId(), s.userId(), s.backendSessionId(), s.taskId(), s.language(), s.encryptedToken(),
          s.tokenExpiresAt());
    }
  }

  private final String sessionKey;
  private final String tenant;
  private final EventPublisher out;
  private SessionSnapshot last;
  // the last write, and whether last holds what no write carried yet (see settled)
  private CompletionStage<Void> lastWrite = CompletableFuture.completedFuture(null);
  private boolean unwritten;
  private int partition;
  // the request the registry handed to the session and has not heard finish (for the log's MDC),
  // and the trace it is handled in
  private volatile String running;
  private volatile Context trace = Context.root();

  /** A session's memory, from its {@code restored} snapshot (null for a new session). */
  SessionMemory(String sessionKey, String tenant, SessionSnapshot restored, int partition, EventPublisher out) {
    this.sessionKey = sessionKey;
    this.tenant = tenant;
    this.last = restored;
    this.partition = partition;
    this.out = out;
  }

  /** A new session's (nothing remembered yet, its partition learnt from its first request). */
  SessionMemory(String sessionKey, String tenant, EventPublisher out) {
    this(sessionKey, tenant, null, -1, out);
  }

  String sessionKey() {
    return sessionKey;
  }

  /** The request in hand now, or null: what the session's log lines are about. */
  String running() {
    return running;
  }

  /** The request in hand now ({@code requestId} null: none) and its trace. */
  void running(String requestId, Context trace) {
    this.running = requestId;
    this.trace = trace == null ? Context.root() : trace;
  }

  /** The trace of the request in hand, {@link Context#root()} when none: what the session's work belongs to. */
  Context trace() {
    return trace;
  }

  String tenant() {
    return tenant;
  }

  /** The latest snapshot, where a (re)started actor begins; null if the session never wrote one. */
  synchronized SessionSnapshot last() {
    return last;
  }

  /** The partition the session's requests come from (its snapshots go to the same one). */
  synchronized void partition(int p) {
    if (p >= 0) {
      partition = p;
    }
  }

  // ------------------------------------------------------------------ what the registry asks

  /** Whether {@code requestId} is among the session's recently finished requests. */
  synchronized boolean remembers(String requestId) {
    return last != null && last.recentRequestIds() != null && last.recentRequestIds().contains(requestId);
  }

  /** The highest requests offset the session finished (every earlier request of it is finished too); -1 if none. */
  synchronized long doneThrough() {
    return last == null || last.doneThroughOffset() == null ? -1 : last.doneThroughOffset();
  }

  /**
   * The recorded terminal event of {@code requestId} that Kafka may not have taken (see {@link
   * SessionSnapshot#pendingTerminal()}), now no longer pending here: whoever asks publishes it.
   */
  synchronized Event takePendingTerminal(String requestId) {
    Event pending = last == null ? null : last.pendingTerminal();
    if (pending == null || !pending.requestId().equals(requestId)) {
      return null;
    }
    last = withoutPendingTerminal(last);
    unwritten = true;
    return pending;
  }

  // ------------------------------------------------------------------ what the session writes

  /** Where the session stands: its identity and the request in flight (null: none), written (made and stored under the lock). */
  synchronized CompletionStage<Void> write(Identity identity, InFlight inFlight) {
    return write(now(identity, inFlight));
  }

  /** The snapshot {@link #write(Identity, InFlight)} would write, not written (see {@link #write(SessionSnapshot)}). */
  synchronized SessionSnapshot now(Identity identity, InFlight inFlight) {
    return compose(identity, inFlight, recent(), doneThroughOffset(), last == null ? null : last.pendingTerminal());
  }

  /**
   * The request at {@code offset} finished: it is remembered, done-through moves up to it, and its
   * {@code terminal} event is pending until {@link #terminalPublished}. Written.
   */
  synchronized CompletionStage<Void> finished(Identity identity, String requestId, long offset, Event terminal) {
    Long through = doneThroughOffset();
    through = offset < 0 ? through : Long.valueOf(through == null ? offset : Math.max(through, offset));
    return store(compose(identity, null, recentWith(requestId), through, terminal));
  }

  /**
   * A request of the session finished without running in it (a cancel, a cancelled queued request,
   * one abandoned after crashes): remembered, and no longer in flight. Written, if the session has
   * written a snapshot before (a session that never did has nothing to keep yet but this id, which
   * its first snapshot carries). Nothing is written for a request remembered already.
   */
  synchronized CompletionStage<Void> remember(String requestId, Identity identity, InFlight inFlight) {
    if (identity == null && remembers(requestId) && (last.inFlight() == null || !last.inFlight().requestId().equals(requestId))) {
      return CompletableFuture.completedFuture(null); // already remembered, nothing to change
    }
    if (identity == null && (last == null || last.clientId() == null)) {
      // never written: kept here for the registry, and written with the session's first snapshot
      last = compose(null, null, recentWith(requestId), doneThroughOffset(), null);
      unwritten = true;
      return CompletableFuture.completedFuture(null);
    }
    Identity who = identity != null ? identity : Identity.of(last);
    InFlight still = identity != null ? inFlight
        : last.inFlight() != null && !last.inFlight().requestId().equals(requestId) ? last.inFlight() : null;
    return store(compose(who, still, recentWith(requestId), doneThroughOffset(), last == null ? null : last.pendingTerminal()));
  }

  /** Kafka took the terminal event of {@code requestId}: nothing is pending any more. Written, when that changed anything. */
  synchronized CompletionStage<Void> terminalPublished(String requestId) {
    if (last == null || last.pendingTerminal() == null || !last.pendingTerminal().requestId().equals(requestId)) {
      return CompletableFuture.completedFuture(null);
    }
    return store(withoutPendingTerminal(last));
  }

  /** Stores and writes {@code s} (made by {@link #now}, possibly a while ago: a hand-over writes it last). */
  synchronized CompletionStage<Void> write(SessionSnapshot s) {
    return store(s);
  }

  /**
   * The last write of a session handed over: {@code now} (made as the actor stopped). When the last
   * terminal event is still on its way ({@code terminalSending} not null), the snapshot waits for
   * Kafka's answer and then says whether it is still pending, so the next owner does not publish
   * it a second time (the hand-over waits for this write).
   */
  CompletionStage<Void> handOver(SessionSnapshot now, CompletionStage<Void> terminalSending) {
    return terminalSending == null ? write(now)
        : terminalSending.handle((ok, err) -> err == null ? withoutPendingTerminal(now) : now).thenCompose(this::write);
  }

  /** {@code s} without its pending terminal event (Kafka took it). */
  static SessionSnapshot withoutPendingTerminal(SessionSnapshot s) {
    return compose(s.sessionKey(), s.tenant(), Identity.of(s), s.inFlight(), s.recentRequestIds(), s.doneThroughOffset(), null,
        s.updatedAt());
  }

  // ------------------------------------------------------------------ inside

  private CompletionStage<Void> store(SessionSnapshot s) {
    last = s; // what a restart after a crash begins from
    unwritten = false;
    lastWrite = out.snapshot(s, partition); // handed over in call order: the topic's order is this order
    return lastWrite;
  }

  // ------------------------------------------------------------------ passivation

  /**
   * Whether everything the session remembers is on the sessions topic, Kafka acknowledged it and
   * the index knows where (see {@link SnapshotIndex}): then the session may leave the heap, and its
   * next request reads it back. A session that never remembered anything is settled too.
   */
  synchronized boolean settled() {
    CompletableFuture<Void> w = lastWrite.toCompletableFuture();
    return !unwritten && w.isDone() && !w.isCompletedExceptionally();
  }

  /** Writes what the session remembers when a write is due (never made, or refused), so it can settle. */
  synchronized void writeOut() {
    CompletableFuture<Void> w = lastWrite.toCompletableFuture();
    if (last != null && (unwritten || w.isCompletedExceptionally())) {
      store(last);
    }
  }

  /** Whether the session remembers anything at all (a request it finished, who it is on the backend). */
  synchronized boolean remembersAnything() {
    return last != null;
  }

  private List<String> recent() {
    return last == null || last.recentRequestIds() == null ? List.of() : last.recentRequestIds();
  }

  private List<String> recentWith(String requestId) {
    List<String> recent = new ArrayList<>(recent());
    recent.remove(requestId);
    recent.add(requestId);
    return List.copyOf(recent.subList(Math.max(0, recent.size() - REMEMBERED), recent.size()));
  }

  private Long doneThroughOffset() {
    return last == null ? null : last.doneThroughOffset();
  }

  private SessionSnapshot compose(Identity identity, InFlight inFlight, List<String> recent, Long doneThrough, Event pending) {
    return compose(sessionKey, tenant, identity, inFlight, recent, doneThrough, pending, Instant.now());
  }

  private static SessionSnapshot compose(String sessionKey, String tenant, Identity id, InFlight inFlight, List<String> recent,
      Long doneThrough, Event pending, Instant at) {
    Identity who = id != null ? id : new Identity(null, null, null, null, null, null, null);
    return new SessionSnapshot(SessionSnapshot.VERSION, sessionKey, tenant, who.clientId(), who.userId(), who.backendSessionId(),
        who.taskId(), who.language(), who.encryptedToken(), who.tokenExpiresAt(), inFlight, recent, doneThrough, pending, at);
  }
}
