package io.reelay.worker;

import io.micrometer.core.instrument.Counter;
import io.opentelemetry.context.Context;
import io.micrometer.core.instrument.DistributionSummary;
import io.reelay.nemo.NemoClient;
import io.reelay.protocol.Event;
import io.reelay.protocol.Event.ErrorInfo;
import io.reelay.protocol.Event.Result;
import io.reelay.protocol.Phase;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.Topics;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The one place a request's events are made and numbered: the QUEUED event and the first seq after
 * it, a running request's events in seq blocks, the REJECTED event of a bad record, the events of a
 * cancel and of a request given up after crashes. {@link EventPublisher} only sends them.
 *
 * <p>Seqs increase strictly per request, also across owners: QUEUED is seq 1 (2 when a previous
 * owner may have published it already), a running request continues from the seq it was handed, and
 * a request resumed elsewhere starts above every seq this owner may have used (see {@link Sequence}).
 */
final class RequestEvents {

  private static final Logger log = LoggerFactory.getLogger(RequestEvents.class);

  /**
   * Event seqs are handed out in blocks (hi/lo): a snapshot records the end of the block in use as
   * the in-flight request's next seq, so whoever resumes the request starts above every seq this
   * owner may have published since, without a snapshot per event. A takeover leaves a gap, never
   * a repeat.
   */
  static final long SEQ_BLOCK = 100;

  private static final String CHECK_STATUS = "It may have finished already: check its status";

  private final EventPublisher out;
  // terminal events handed out and not yet taken by Kafka (every kind: a session's end, a cancel, a
  // cancelled queued request, one given up after crashes), each retried until it is
  private final Map<String, Event> pendingTerminals = new ConcurrentHashMap<>();

  RequestEvents(EventPublisher out) {
    this.out = out;
  }

  // ------------------------------------------------------------------ events outside a session's run

  /**
   * A record that is not a request the worker runs, when its requestId could be read: seq 1,
   * REJECTED. Fails with {@link EventPublisher.NotTaken} once Kafka has refused it for {@code giveUpAfter}.
   */
  CompletionStage<Void> rejected(String requestId, String sessionKey, String tenant, String reason, String code, String hint,
      Duration giveUpAfter) {
    ended(tenant, "unknown", RequestState.REJECTED);
    return send(event(requestId, sessionKey, tenant, 1, RequestState.REJECTED, Phase.DONE, "Rejected: " + reason, null, null,
        new ErrorInfo(code, reason, false, hint)), null, giveUpAfter, Context.current());
  }

  /**
   * Publishes {@code r}'s QUEUED event ({@code ahead}: requests of its session before it) and answers
   * the seq its next event takes. A previous owner may have published QUEUED (seq 1) already when
   * the record was {@code replayed}: then it starts above it.
   */
  long queued(Request r, boolean replayed, int ahead) {
    long seq = replayed ? 2 : 1;
    send(r, seq, RequestState.QUEUED, Phase.QUEUED,
        ahead == 0 ? "Accepted" : "Queued behind " + ahead + " request(s) of this session", null, null, null, Context.current());
    return seq + 1;
  }

  /** {@code r} was cancelled while it waited in its session's queue. */
  CompletionStage<Void> cancelledBeforeStart(Request r, long seq) {
    return send(r, seq, RequestState.CANCELLED, Phase.DONE, "Cancelled before it started", null, null, null, Context.current());
  }

  /** The one event of a {@code cancel} that stopped its target. */
  CompletionStage<Void> cancelDone(Request cancel) {
    return send(cancel, 1, RequestState.COMPLETED, Phase.DONE, "Cancelled " + cancel.cancels(), null, null, null, Context.current());
  }

  /** The one event of a {@code cancel} whose target is not running or waiting ({@code why}: where it is instead). */
  CompletionStage<Void> notCancellable(Request cancel, String why) {
    String message = "Nothing to cancel: " + cancel.cancels() + " " + why;
    return send(cancel, 1, RequestState.FAILED, Phase.DONE, message, null, null,
        new ErrorInfo("NOT_CANCELLABLE", message, false, CHECK_STATUS), Context.current());
  }

  /** {@code r} is given up: its session kept crashing ({@code reason}). Its seq continues from {@code firstSeq} or above. */
  CompletionStage<Void> crashed(Request r, long firstSeq, String reason) {
    return send(r, resumeFrom(r, firstSeq), RequestState.FAILED, Phase.DONE, "Failed: " + reason, null, null,
        new ErrorInfo("SESSION_CRASHED", reason, true,
            "It was not run again, to avoid paying twice; check the session state, then resubmit under a new requestId"),
        Context.current());
  }

  /** A recorded terminal event, published again, the same event with the same seq. */
  CompletionStage<Void> republish(Event terminal, String callbackUrl) {
    return send(terminal, callbackUrl, null, Context.current());
  }

  /** What a person reads when the client is about to retry a call. */
  static String retrying(NemoClient.RetryNotice n) {
    String in = Math.max(1, Math.round(n.delay().toMillis() / 1000.0)) + " s";
    return n.refused() != null
        ? "Waiting for the backend (" + n.refused() + "), retrying in " + in
        : "The backend answered " + n.code() + " to " + n.call() + "; retry " + n.attempt() + " in " + in;
  }

  /** Where a request handed to a session again (after a crash) goes on: above every seq published for it here. */
  long resumeFrom(Request r, long firstSeq) {
    return Math.max(firstSeq, out.nextSeq(r.tenantOrDefault(), r.requestId()));
  }

  /** The events of a request a session runs, from {@code firstSeq} on. */
  Sequence of(Request r, long firstSeq) {
    return new Sequence(r, firstSeq);
  }

  // ------------------------------------------------------------------ a running request's

  /**
   * A running request's events, numbered, in the trace current where it is made (the request's,
   * in its session). Confined to the session that runs it.
   */
  final class Sequence {
    private final Request request;
    private final Context trace = Context.current();
    private long seq;
    private long reserved; // seqs below it may be used by this owner: the snapshot promises the next owner starts there

    private Sequence(Request request, long firstSeq) {
      this.request = request;
      this.seq = firstSeq;
    }

    /** Publishes the next (non-terminal) event. */
    void publish(RequestState state, Phase phase, String message, Double progress) {
      send(request, seq++, state, phase, message, progress, null, null, trace);
    }

    /** The terminal event, numbered, not yet published: the session records it first (see {@link SessionMemory#finished}). */
    Event terminal(RequestState state, String message, Result result, ErrorInfo error) {
      return event(request, seq++, state, Phase.DONE, message, state == RequestState.COMPLETED ? 1.0 : null, result, error);
    }

    /**
     * Publishes the terminal event made by {@link #terminal} once {@code recorded} (the snapshot
     * that holds it) is done, whether or not Kafka took that snapshot (the event must go out), and
     * until Kafka takes it.
     */
    CompletionStage<Void> publishAfter(CompletionStage<Void> recorded, Event terminal) {
      return recorded
          .handle((ok, err) -> {
            if (err != null) {
              log.warn("snapshot before the terminal event of {} not written: {}", terminal.requestId(), err.toString());
            }
            return null;
          })
          .thenCompose(x -> {
            ended(request.tenantOrDefault(), request.effectiveAction().wire(), terminal.state());
            return send(terminal, request.callbackUrl(), null, trace);
          });
    }

    /** Whether the block in use is half spent: time to reserve the next one, long before it is needed. */
    boolean runningLow() {
      return seq >= reserved - SEQ_BLOCK / 2;
    }

    /** Reserves a new block: the next seq a snapshot may promise a new owner. */
    long reserve() {
      reserved = seq + SEQ_BLOCK;
      return reserved;
    }
  }

  // ------------------------------------------------------------------ inside

  private CompletionStage<Void> send(Request r, long seq, RequestState state, Phase phase, String message, Double progress,
      Result result, ErrorInfo error, Context trace) {
    if (state.isTerminal()) {
      ended(r.tenantOrDefault(), r.effectiveAction().wire(), state);
    }
    return send(event(r, seq, state, phase, message, progress, result, error), r.callbackUrl(), null, trace);
  }

  /**
   * Sends {@code e}. A terminal event is sent until Kafka takes it (with backoff; it is pending
   * meanwhile): the stage completes only then, so whoever waits on it neither reports the request
   * finished nor lets its offset be committed before. It fails only when the publisher is closed
   * (the worker stops): the next owner finds the request in its session's snapshot; or once Kafka
   * has refused it for {@code giveUpAfter}, when that is not null. Its records carry {@code trace}.
   */
  private CompletionStage<Void> send(Event e, String callbackUrl, Duration giveUpAfter, Context trace) {
    if (log.isDebugEnabled()) { // every event passes here
      MDC.put("requestId", e.requestId());
      MDC.put("sessionKey", e.sessionKey());
      try {
        log.debug("{} {} {}", e.state(), e.phase(), e.message());
      } finally {
        MDC.remove("requestId");
        MDC.remove("sessionKey");
      }
    }
    if (!e.isTerminal()) {
      return out.publish(e, callbackUrl, trace);
    }
    String key = Topics.requestKey(e.tenant(), e.requestId());
    pendingTerminals.put(key, e);
    return out.untilTaken("terminal event " + e.seq() + " of " + e.requestId(), () -> out.publish(e, callbackUrl, trace), giveUpAfter)
        .whenComplete((ok, err) -> pendingTerminals.remove(key, e));
  }

  // a rejected record's tenant may be any text: only a valid one becomes a tag value
  private static final Pattern TENANT_TAG = Pattern.compile("[A-Za-z0-9._:@\\-]{1,128}");

  /** Requests of its session ahead of each new request when it arrives (in hand or queued). */
  DistributionSummary queueDepth() {
    return DistributionSummary.builder("reelay_worker_session_queue_depth")
        .description("requests of the same session ahead of a request when it arrives (running or queued)")
        .register(out.meters());
  }

  /** Polls per finished render (by this owner), against the vendor's fixed 30 s schedule. */
  DistributionSummary renderPolls() {
    return DistributionSummary.builder("reelay_worker_render_polls")
        .description("polls a render took from its submit (or its resumption) to its end")
        .publishPercentileHistogram()
        .register(out.meters());
  }

  /** Counts a request that ended (once, when its terminal event is made; a republish is not counted again). */
  private void ended(String tenant, String action, RequestState state) {
    Counter.builder("reelay_worker_requests")
        .description("requests ended, by their terminal state, action and tenant")
        .tag("state", state.name())
        .tag("action", action)
        .tag("tenant", tenant == null || tenant.isBlank() ? Request.DEFAULT_TENANT : TENANT_TAG.matcher(tenant).matches() ? tenant : "invalid")
        .register(out.meters())
        .increment();
  }

  /** Terminal events handed out that Kafka has not taken yet. */
  int pendingTerminals() {
    return pendingTerminals.size();
  }

  private static Event event(Request r, long seq, RequestState state, Phase phase, String message, Double progress, Result result,
      ErrorInfo error) {
    return event(r.requestId(), r.sessionKey(), r.tenantOrDefault(), seq, state, phase, message, progress, result, error);
  }

  private static Event event(String requestId, String sessionKey, String tenant, long seq, RequestState state, Phase phase,
      String message, Double progress, Result result, ErrorInfo error) {
    return new Event(Event.VERSION, requestId, sessionKey, tenant, seq, Instant.now(), state, phase, message, fraction(progress),
        result, error);
  }

  /** Progress as the Event contract has it, a fraction in 0..1, whatever the backend reported (null stays null). */
  static Double fraction(Double progress) {
    return progress == null || progress.isNaN() ? null : Math.max(0.0, Math.min(1.0, progress));
  }
}
