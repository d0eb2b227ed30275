package io.reelay.worker;

import com.fasterxml.jackson.databind.JsonNode;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.reelay.protocol.Action;
import io.reelay.protocol.Json;
import io.reelay.protocol.JsonProblems;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestValidation;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the worker makes of a record before any session sees it: a request to run, or a rejection.
 * A rejected record goes to the DLQ (the original bytes, the reason in headers) and, when its
 * requestId can be read, its sender is told why with a REJECTED event. Bad records never block a
 * partition, and are never lost: the record is committed only once Kafka took its dead letter.
 */
final class RecordIntake {

  private static final Logger log = LoggerFactory.getLogger(RecordIntake.class);

  /** DLQ copies of oversize records are cut to this (they are evidence, not work). */
  static final int DLQ_MAX_BYTES = 512 * 1024;

  /** Why a record is not a request the worker will run, and what its sender can do about it. */
  record Rejection(String reason, String code, String hint) {
    static final String FIX = "Fix the request and send it again under a new requestId";

    Rejection(String reason) {
      this(reason, "INVALID_REQUEST", FIX);
    }
  }

  /** A record read: a request to run, or why not (exactly one of the two). */
  record Parsed(Request request, Rejection rejection) {
    static Parsed rejected(String reason) {
      return new Parsed(null, new Rejection(reason));
    }
  }

  private final WorkerSettings settings;
  private final EventPublisher events;
  private final RequestEvents requestEvents;
  private final MeterRegistry meters;

  RecordIntake(WorkerSettings settings, EventPublisher events, RequestEvents requestEvents, MeterRegistry meters) {
    this.settings = settings;
    this.events = events;
    this.requestEvents = requestEvents;
    this.meters = meters;
  }

  Parsed parse(ConsumerRecord<String, byte[]> rec) {
    if (rec.value() == null || rec.value().length == 0) {
      return Parsed.rejected("empty record: no value (a request is a JSON object)");
    }
    if (rec.value().length > settings.maxRecordBytes()) {
      return Parsed.rejected("record is " + rec.value().length + " bytes, over the limit of "
          + settings.maxRecordBytes() + " (reelay.worker.max-record-bytes)");
    }
    Request request;
    try {
      request = Json.read(rec.value(), Request.class);
    } catch (RuntimeException e) {
      return Parsed.rejected("not a valid request: " + JsonProblems.describe(e));
    }
    if (request == null) {
      return Parsed.rejected("empty record");
    }
    List<String> problems = RequestValidation.problems(request);
    if (!problems.isEmpty()) {
      return Parsed.rejected(String.join("; ", problems));
    }
    UploadCheck.Refused r = request.effectiveAction() != Action.UPLOAD ? null
        : UploadCheck.refusal(request.upload(), request.tenantOrDefault(), settings.mediaDir(), settings.maxUploadBytes());
    if (r != null) {
      // refused before it takes a slot or a backend call (the session checks again when it uploads)
      return new Parsed(null, new Rejection("upload refused: " + r.reason(), r.code(), r.hint()));
    }
    return new Parsed(request, null);
  }

  /**
   * Dead-letters the record and, if its requestId can be read, tells its sender why (REJECTED).
   * Both are retried until Kafka takes them; after {@code stuck-restart-after} of refusals the stage
   * fails with {@link EventPublisher.NotTaken}, for the worker to restart its request source.
   */
  CompletionStage<Void> reject(ConsumerRecord<String, byte[]> rec, Rejection why) {
    String reason = why.reason();
    Counter.builder("reelay_worker_dead_letters")
        .description("records dead-lettered, by why (code: INVALID_REQUEST or an upload refusal)")
        .tag("reason", why.code())
        .register(meters)
        .increment();
    log.warn("rejected record {}-{}@{}: {}", rec.topic(), rec.partition(), rec.offset(), reason);
    Duration giveUp = settings.stuckRestartAfter();
    CompletionStage<Void> dlq = events.untilTaken("dead letter of " + rec.topic() + "-" + rec.partition() + "@" + rec.offset(),
        () -> events.deadLetter(rec, reason, DLQ_MAX_BYTES), giveUp);
    JsonNode node = readTree(rec.value());
    String requestId = text(node, "requestId");
    if (requestId == null) {
      return dlq;
    }
    String sessionKey = text(node, "sessionKey") != null ? text(node, "sessionKey") : rec.key();
    String tenant = text(node, "tenant") != null ? text(node, "tenant") : Request.DEFAULT_TENANT;
    // REJECTED once the dead letter is safe: a restart for a refused dead letter does not repeat it
    return dlq.thenCompose(v -> requestEvents.rejected(requestId, sessionKey, tenant, reason, why.code(), why.hint(), giveUp));
  }

  private static JsonNode readTree(byte[] bytes) {
    try {
      return bytes == null ? null : Json.mapper().readTree(bytes);
    } catch (Exception e) {
      return null;
    }
  }

  private static String text(JsonNode n, String field) {
    if (n == null || !n.isObject() || !n.path(field).isTextual()) {
      return null;
    }
    String s = n.get(field).asText();
    return s.isBlank() || s.length() > 128 ? null : s;
  }
}
