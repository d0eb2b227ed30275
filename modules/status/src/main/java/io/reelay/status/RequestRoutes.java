package io.reelay.status;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.context.Context;
import io.reelay.protocol.Action;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.JsonProblems;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.RequestValidation;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.UUID;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.pekko.NotUsed;
import org.apache.pekko.http.javadsl.marshalling.sse.EventStreamMarshalling;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.model.headers.RetryAfter;
import org.apache.pekko.http.javadsl.model.sse.ServerSentEvent;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Rejected;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.stream.javadsl.Source;

/**
 * {@code /v1/requests}: status, live events (SSE), listing, submit and cancel. Every answer is
 * limited to the caller's tenant; another tenant's request is answered like an unknown one (404).
 */
final class RequestRoutes extends AllDirectives {

  private final StatusQueries view;
  private final RecentSubmissions recent;
  private final RequestPublisher publisher;
  private final StatusSettings settings;
  private final IdempotencyKeys idempotencyKeys;
  private final TenantLimits limits;
  private final WebhookSettings webhooks;

  RequestRoutes(StatusQueries view, RequestPublisher publisher, StatusSettings settings, TenantLimits limits,
      WebhookSettings webhooks) {
    this.webhooks = webhooks;
    this.view = view;
    this.recent = new RecentSubmissions(RECENT_SUBMISSIONS_KEPT, RECENT_SUBMISSIONS_MAX);
    this.publisher = publisher;
    this.settings = settings;
    this.idempotencyKeys = new IdempotencyKeys(settings);
    this.limits = limits;
  }

  /** The routes under {@code /v1/requests}, for a caller of {@code tenant}. */
  Route route(String tenant) {
    return concat(
        pathEnd(
            () ->
                concat(
                    get(() -> listing(tenant)),
                    post(() -> ServerSpans.traced("/v1/requests", tenant, trace ->
                        submitting(tenant, () -> optionalHeaderValueByName("Idempotency-Key", key ->
                            withSizeLimit(limits.settings().maxBodyBytes(), () ->
                                entity(Unmarshaller.entityToString(), body -> submit(tenant, key, body, trace))))))))),
        pathPrefix(
            PathMatchers.segment(),
            id ->
                concat(
                    pathEnd(() -> get(() -> status(tenant, id))),
                    path("events", () -> get(() -> optionalHeaderValueByName("Last-Event-ID", last -> events(tenant, id, last)))),
                    path("cancel", () -> post(() -> ServerSpans.traced("/v1/requests/{requestId}/cancel", tenant, trace ->
                        submitting(tenant, () -> cancel(tenant, id, trace))))))));
  }

  /** {@code inner}, if {@code tenant} has a submit token left; otherwise 429 with when the next one comes. */
  private Route submitting(String tenant, Supplier<Route> inner) {
    Duration wait = limits.submit(tenant);
    if (wait.isZero()) {
      return inner.get();
    }
    long seconds = Math.max(1, (wait.toMillis() + 999) / 1000);
    return complete(ApiErrors.response(StatusCodes.TOO_MANY_REQUESTS, "RATE_LIMITED",
            "this API key's tenant submits more than " + fmt(limits.settings().submitsPerSecond())
                + " requests per second (reelay.status.limits.submits-per-second); slow down and retry after " + seconds + " s")
        .addHeader(RetryAfter.create(seconds)));
  }

  private static String fmt(double d) {
    return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
  }

  /** How long, and how many, submits of this instance are answered before the stores have them. */
  private static final Duration RECENT_SUBMISSIONS_KEPT = Duration.ofSeconds(60);
  private static final int RECENT_SUBMISSIONS_MAX = 10_000;

  /** The status of a tenant's request: from the stores, or from this instance's recent submits. */
  private CompletionStage<Optional<RequestStatus>> lookup(String tenant, String id) {
    return view.status(tenant, id).handle((found, t) -> {
      Optional<RequestStatus> mine = recent.get(tenant, id);
      if (t != null && mine.isEmpty()) {
        throw t instanceof CompletionException c ? c : new CompletionException(t);
      }
      return found != null && found.isPresent() ? found : mine;
    });
  }

  private Route status(String tenant, String id) {
    return onSuccess(lookup(tenant, id), found -> found
        .map(s -> complete(json(StatusCodes.OK, statusJson(s))))
        .orElseGet(() -> complete(unknown(id))));
  }

  private Route events(String tenant, String id, Optional<String> lastEventId) {
    long after = lastEventId.map(RequestRoutes::parseLastEventId).orElse(Long.MIN_VALUE);
    TenantLimits.Watch watch = limits.watch(tenant);
    if (watch == null) {
      return complete(ApiErrors.response(StatusCodes.TOO_MANY_REQUESTS, "TOO_MANY_STREAMS", limits.watchRefusal(tenant))
          .addHeader(RetryAfter.create(WATCH_RETRY_AFTER_SECONDS)));
    }
    Optional<RequestStatus> submittedHere = recent.get(tenant, id);
    CompletionStage<Optional<Source<Event, NotUsed>>> followed =
        view.follow(tenant, id, after, submittedHere.isPresent()).handle((found, t) -> {
          if (t != null && submittedHere.isPresent()) {
            // the stores cannot be asked yet: what this instance knows, and the end (the client resumes after it)
            Event submitted = submittedHere.get().latest();
            return Optional.of(submitted.seq() > after ? Source.single(submitted) : Source.<Event>empty());
          }
          if (t != null) {
            throw t instanceof CompletionException c ? c : new CompletionException(t);
          }
          return found;
        }).whenComplete((found, t) -> {
          if (t != null || found.isEmpty()) {
            watch.release();
          }
        });
    return onSuccess(followed, found -> found
        .map(events -> stream(events, watch))
        .orElseGet(() -> complete(unknown(id))));
  }

  /** The SSE answer of {@code events}; the watch slot is given back when it ends. */
  private Route stream(Source<Event, NotUsed> events, TenantLimits.Watch watch) {
    Source<ServerSentEvent, NotUsed> sse =
        sse(events, settings)
            .watchTermination((m, done) -> {
              done.whenComplete((d, t) -> watch.release());
              return m;
            });
    // a stream that is not answered (e.g. 406 for an Accept without text/event-stream) gives its slot back
    return mapRouteResult(result -> {
      if (result instanceof Rejected) {
        watch.release();
      }
      return result;
    }, () -> completeOK(sse, EventStreamMarshalling.toEventStream()));
  }

  private static final long WATCH_RETRY_AFTER_SECONDS = 5;

  /** Events as SSE: the event as data, its {@code seq} as id (what Last-Event-ID resumes from), heartbeats when idle. */
  static Source<ServerSentEvent, NotUsed> sse(Source<Event, NotUsed> events, StatusSettings settings) {
    return events
        .map(e -> ServerSentEvent.create(Json.string(e), Optional.empty(), Optional.of(Long.toString(e.seq())), OptionalInt.empty()))
        .keepAlive(settings.sseKeepAlive(), ServerSentEvent::heartbeat);
  }

  private Route listing(String tenant) {
    return parameterOptional(
        "session",
        session ->
            parameterOptional(
                "state",
                state ->
                    parameterOptional(
                        "limit",
                        limit ->
                            parameterOptional(
                                "after",
                                after -> {
                                  RequestState st = state.filter(s -> !s.isBlank()).map(RequestRoutes::parseState).orElse(null);
                                  int n = limit(limit, settings);
                                  String from = cursor(after);
                                  return onSuccess(
                                      view.list(tenant, session.filter(s -> !s.isBlank()).orElse(null), st, from, n),
                                      page -> complete(json(StatusCodes.OK, pageJson(page))));
                                }))));
  }

  /** The position a listing's {@code after} parameter names (null: from the start), or 400. */
  static String cursor(Optional<String> after) {
    return after.filter(a -> !a.isBlank()).map(Listing::parseCursor).orElse(null);
  }

  /** A listing's answer: {@code requests}, {@code count}, {@code hasMore} and, when it has, {@code nextAfter}. */
  static ObjectNode pageJson(Page page) {
    ObjectNode out = Json.mapper().createObjectNode();
    out.set("requests", statusArray(page.items().stream().map(Page.Listed::status).toList()));
    out.put("count", page.items().size());
    out.put("hasMore", page.hasMore());
    if (page.hasMore()) {
      out.put("nextAfter", Listing.cursor(page.next()));
    }
    return out;
  }

  /**
   * Publishes a submitted request. With an {@code Idempotency-Key} the same key (same tenant, same
   * body) answers the same {@code requestId} again and publishes nothing; another body under a
   * known key is 422.
   */
  private Route submit(String tenant, Optional<String> idempotencyKey, String body, Context trace) {
    String key = idempotencyKey.orElse(null);
    String keyProblem = key == null ? null : IdempotencyKeys.problem(key);
    if (keyProblem != null) {
      throw ApiErrors.badRequest(keyProblem);
    }
    JsonNode node = parseBody(body);
    byte[] fingerprint = key == null ? null : IdempotencyKeys.fingerprint(node);
    Request request = parseSubmission(tenant, node);
    String hook = webhooks.submitProblem(tenant, request.callbackUrl());
    if (hook != null) {
      throw ApiErrors.badRequest(hook);
    }
    if (key == null) {
      return publish(request, Map.of("requestId", request.requestId()), trace);
    }
    IdempotencyKeys.Claim claim = idempotencyKeys.claim(tenant, key, fingerprint, request, r -> submit(r, trace));
    if (claim.conflict()) {
      return complete(ApiErrors.response(StatusCodes.UNPROCESSABLE_CONTENT, "IDEMPOTENCY_KEY_REUSED",
          "this Idempotency-Key was used with another body; use a new key for a new request"));
    }
    return answer(claim.published(), Map.of("requestId", claim.requestId()), claim.replayed());
  }

  private Route cancel(String tenant, String id, Context trace) {
    return onSuccess(lookup(tenant, id), target -> cancel(tenant, id, target, trace));
  }

  private Route cancel(String tenant, String id, Optional<RequestStatus> target, Context trace) {
    if (target.isEmpty()) {
      return complete(unknown(id));
    }
    Request cancel =
        new Request(
            Request.VERSION, UUID.randomUUID().toString(), target.get().latest().sessionKey(), tenant, null,
            Action.CANCEL, null, null, null, id, null, Instant.now());
    List<String> problems = RequestValidation.problems(cancel);
    if (!problems.isEmpty()) {
      return complete(ApiErrors.response(StatusCodes.CONFLICT, "CONFLICT", "cannot cancel " + id + ": " + String.join("; ", problems)));
    }
    return publish(cancel, Map.of("requestId", cancel.requestId(), "cancels", id), trace);
  }

  private Route publish(Request request, Map<String, String> answer, Context trace) {
    return answer(submit(request, trace), answer, false);
  }

  /**
   * Publishes {@code request} (and its SUBMITTED event, for every status instance); once Kafka took
   * them this instance shows it at once ({@link RecentSubmissions}), so a GET or /events right after
   * the 202 finds it.
   */
  private CompletionStage<Void> submit(Request request, Context trace) {
    Span.fromContext(trace).setAttribute("reelay.request_id", request.requestId());
    return publisher.publish(request, trace).thenRun(() -> recent.add(Event.submitted(request, Instant.now())));
  }

  /** 202 with {@code answer} once published; 503 with it (and Retry-After) when Kafka did not acknowledge in time. */
  private Route answer(CompletionStage<Void> published, Map<String, String> answer, boolean replayed) {
    CompletionStage<HttpResponse> response = published.thenApply(v -> {
      HttpResponse ok = json(StatusCodes.ACCEPTED, Json.mapper().valueToTree(answer));
      return replayed ? ok.addHeader(RawHeader.create("Idempotent-Replayed", "true")) : ok;
    });
    return completeWithFuture(response.exceptionally(t -> publishFailed(t, answer)));
  }

  private HttpResponse publishFailed(Throwable t, Map<String, String> answer) {
    if (ApiErrors.isTimeout(t)) {
      long seconds = Math.max(1, (settings.publishRetryAfter().toMillis() + 999) / 1000);
      return ApiErrors.response(
              StatusCodes.SERVICE_UNAVAILABLE, "UNAVAILABLE",
              "Kafka did not acknowledge request " + answer.get("requestId") + " in time (is the broker up and the requests "
                  + "topic created?); it may still arrive: send it again with the same Idempotency-Key or requestId, "
                  + "it runs once",
              answer)
          .addHeader(RetryAfter.create(seconds));
    }
    return ApiErrors.forException(t);
  }

  /**
   * Reads a submitted request: a JSON object in the shape of {@link Request}. {@code v} defaults
   * to 1, {@code requestId} is generated when absent, the tenant is the API key's.
   */
  static Request parseSubmission(String tenant, String body) {
    return parseSubmission(tenant, parseBody(body));
  }

  /** The submitted body: a JSON object, or 400. */
  static JsonNode parseBody(String body) {
    JsonNode node;
    try {
      node = Json.mapper().readTree(body);
    } catch (JsonProcessingException e) {
      throw ApiErrors.badRequest("the body is not valid JSON: " + e.getOriginalMessage());
    }
    if (node == null || !node.isObject()) {
      throw ApiErrors.badRequest("the body must be a JSON object like {\"sessionKey\":\"…\",\"text\":\"…\"}");
    }
    return node;
  }

  /** Reads {@code node} (from {@link #parseBody}; filled in here) as a request of {@code tenant}, or 400. */
  static Request parseSubmission(String tenant, JsonNode node) {
    ObjectNode obj = ((ObjectNode) node).deepCopy();
    if (!obj.hasNonNull("v")) {
      obj.put("v", Request.VERSION);
    }
    if (!obj.hasNonNull("requestId")) {
      obj.put("requestId", UUID.randomUUID().toString());
    }
    if (!obj.hasNonNull("submittedAt")) {
      obj.put("submittedAt", Instant.now().toString());
    }
    obj.put("tenant", tenant);
    Request request;
    try {
      request = Json.mapper().treeToValue(obj, Request.class);
    } catch (JsonProcessingException e) {
      throw ApiErrors.badRequest(JsonProblems.describe(e));
    } catch (IllegalArgumentException e) {
      throw ApiErrors.badRequest(e.getMessage());
    }
    List<String> problems = RequestValidation.problems(request);
    if (!problems.isEmpty()) {
      throw ApiErrors.badRequest(String.join("; ", problems));
    }
    return request;
  }

  private static long parseLastEventId(String value) {
    try {
      return Long.parseLong(value.trim());
    } catch (NumberFormatException e) {
      throw ApiErrors.badRequest("Last-Event-ID must be the seq of an event (a number)");
    }
  }

  private static RequestState parseState(String value) {
    try {
      return RequestState.valueOf(value.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw ApiErrors.badRequest(
          "state must be one of " + Arrays.toString(RequestState.values()) + ", not '" + value + "'");
    }
  }

  static int limit(Optional<String> value, StatusSettings settings) {
    if (value.isEmpty() || value.get().isBlank()) {
      return Math.min(settings.defaultListLimit(), settings.maxListLimit());
    }
    try {
      int n = Integer.parseInt(value.get().trim());
      if (n < 1) {
        throw ApiErrors.badRequest("limit must be at least 1");
      }
      return Math.min(n, settings.maxListLimit());
    } catch (NumberFormatException e) {
      throw ApiErrors.badRequest("limit must be a number");
    }
  }

  private static HttpResponse unknown(String id) {
    return ApiErrors.notFound("no request " + id);
  }

  /** The latest status: the event's fields plus {@code updatedAt}. */
  static ObjectNode statusJson(RequestStatus s) {
    ObjectNode n = Json.mapper().valueToTree(s.latest());
    n.put("updatedAt", s.updatedAt().toString());
    return n;
  }

  static ArrayNode statusArray(List<RequestStatus> statuses) {
    ArrayNode a = Json.mapper().createArrayNode();
    statuses.forEach(s -> a.add(statusJson(s)));
    return a;
  }

  static HttpResponse json(StatusCode status, JsonNode body) {
    return HttpResponse.create()
        .withStatus(status)
        .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, Json.bytes(body)));
  }

}
