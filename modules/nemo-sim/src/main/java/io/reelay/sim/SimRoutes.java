package io.reelay.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.reelay.protocol.Json;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.RemoteAddress;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What every API route shares: reading the call, counting it, the fault dice (429, 5xx, reset, slow),
 * turning {@link SimError}s into envelopes, and JSON replies. Tokens never reach a log or an answer.
 */
abstract class SimRoutes extends AllDirectives {

  private static final Logger log = LoggerFactory.getLogger(SimRoutes.class);
  private static final Duration BODY_TIMEOUT = Duration.ofSeconds(10);
  /** JSON bodies (drafts included) are small; uploads take their own path. */
  private static final long MAX_JSON_BYTES = 16L * 1024 * 1024;

  static final String[] ATTRIBUTION = {"X-Skill-Source", "X-Skill-Version", "X-Skill-Platform"};

  protected final NemoBackend backend;
  protected final ActorSystem<?> system;

  SimRoutes(NemoBackend backend, ActorSystem<?> system) {
    this.backend = backend;
    this.system = system;
  }

  /** One incoming API call: the request and its (small, strict) body. */
  final class Call {
    final HttpRequest request;
    /** The strict body, or null on a streaming endpoint (read {@code request.entity()} there). */
    final String body;
    /** The caller's address: first X-Forwarded-For hop, X-Real-IP, else the peer (for per-address limits). */
    final String address;

    Call(HttpRequest request, String body, String address) {
      this.request = request;
      this.body = body;
      this.address = address;
    }

    Optional<String> header(String name) {
      return request.getHeader(name).map(h -> h.value());
    }

    boolean hasAttribution() {
      for (String h : ATTRIBUTION) if (header(h).map(String::isBlank).orElse(true)) return false;
      return true;
    }

    /** The body as a JSON object; an empty body is an empty object. */
    JsonNode json() {
      if (body == null || body.isBlank()) return JsonNodeFactory.instance.objectNode();
      try {
        JsonNode node = Json.mapper().readTree(body);
        if (node == null || !node.isObject()) throw SimError.badRequest("the body must be a JSON object");
        return node;
      } catch (IOException e) {
        throw SimError.badRequest("the body is not valid JSON");
      }
    }

    /** The caller's account (1001 otherwise); fault {@code token-revoked} strikes here. */
    Account account() {
      Account account = backend.authenticate(header("Authorization"));
      if (backend.dice.roll(backend.dice.current().tokenRevoked())) {
        backend.stats().fault("token-revoked");
        account.revoke();
        throw SimError.tokenInvalid("token has been revoked");
      }
      return account;
    }

    /** The caller's session (1002 otherwise); fault {@code session-lost} strikes here. */
    BackendSession session(Account account, String sessionId) {
      BackendSession session = backend.session(account, sessionId);
      if (backend.dice.roll(backend.dice.current().sessionLost())) {
        backend.stats().fault("session-lost");
        backend.forgetSession(sessionId);
        throw SimError.sessionNotFound(sessionId);
      }
      return session;
    }
  }

  /**
   * An API endpoint: counted under {@code endpoint} in /_sim/stats, subject to the fault mix, its
   * {@link SimError}s answered as envelopes and anything unexpected as a 500 envelope.
   */
  protected Route api(String endpoint, Function<Call, CompletionStage<HttpResponse>> handler) {
    return extractRequest(request -> extractClientIP(ip -> extractStrictEntity(BODY_TIMEOUT, MAX_JSON_BYTES, entity ->
        completeWithFuture(counted(endpoint, new Call(request, entity.getData().utf8String(), address(ip)), handler)))));
  }

  /**
   * An API endpoint whose body is streamed by the handler (uploads): no size limit from pekko-http, the
   * handler enforces its own; otherwise as {@link #api}.
   */
  protected Route apiStreaming(String endpoint, Function<Call, CompletionStage<HttpResponse>> handler) {
    return withoutSizeLimit(() -> extractRequest(request -> extractClientIP(ip ->
        completeWithFuture(counted(endpoint, new Call(request, null, address(ip)), handler)))));
  }

  private static final Duration SHORTEST_DELAY = Duration.ofMillis(1);

  private CompletionStage<HttpResponse> counted(String endpoint, Call call,
      Function<Call, CompletionStage<HttpResponse>> handler) {
    SimStats stats = backend.stats();
    stats.call(endpoint);
    if (!call.hasAttribution()) stats.missingAttribution.increment();
    CompletionStage<HttpResponse> response = answer(endpoint, call, handler);
    Duration latency = backend.latency(endpoint);
    // below a millisecond (a small time-scale) the scheduler would round it up to its tick, tens of
    // times the latency asked for: answer at once
    return latency.compareTo(SHORTEST_DELAY) < 0 ? response : response.thenCompose(r -> later(latency, r));
  }

  private static String address(RemoteAddress ip) {
    return ip.getAddress().map(InetAddress::getHostAddress).orElse("unknown");
  }

  private CompletionStage<HttpResponse> answer(String endpoint, Call call,
      Function<Call, CompletionStage<HttpResponse>> handler) {
    Faults faults = backend.dice.current();
    FaultDice dice = backend.dice;
    SimStats stats = backend.stats();
    if (dice.roll(faults.rateLimit429())) {
      stats.fault("rate-limit-429");
      long wait = Math.max(1, (long) Math.ceil(backend.settings.scaled(backend.settings.timing().retryAfter()).toMillis() / 1000.0));
      return done(envelopeError(StatusCodes.TOO_MANY_REQUESTS, 429, "rate limited: too many requests, retry later")
          .addHeader(retryAfter(wait)));
    }
    if (dice.roll(faults.serverError5xx())) {
      stats.fault("server-error-5xx");
      return done(switch (dice.pick(3)) {
        case 0 -> envelopeError(StatusCodes.INTERNAL_SERVER_ERROR, 500, "internal server error");
        case 1 -> badGateway();
        default -> envelopeError(StatusCodes.SERVICE_UNAVAILABLE, 503, "service temporarily unavailable");
      });
    }
    if (dice.roll(faults.requestTimeout408())) {
      stats.fault("request-timeout-408");
      return done(envelopeError(StatusCodes.REQUEST_TIMEOUT, 408, "request timeout"));
    }
    if (dice.roll(faults.connectionReset())) {
      stats.fault("connection-reset");
      // a failing body makes pekko-http abort the connection: the client sees it drop mid-answer
      return done(HttpResponse.create().withEntity(HttpEntities.createChunked(ContentTypes.APPLICATION_JSON,
          Source.<ByteString>failed(new IOException("connection reset by fault injection")))));
    }
    CompletionStage<HttpResponse> response;
    try {
      response = handler.apply(call);
    } catch (RuntimeException e) {
      response = CompletableFuture.failedFuture(e);
    }
    response = response.exceptionally(e -> failure(endpoint, e instanceof CompletionException && e.getCause() != null ? e.getCause() : e));
    if (dice.roll(faults.slowResponse())) {
      stats.fault("slow-response");
      Duration delay = backend.settings.scaled(backend.settings.timing().slowResponse());
      response = response.thenCompose(r -> later(delay, r));
    }
    return response;
  }

  private HttpResponse failure(String endpoint, Throwable e) {
    if (e instanceof SimError s) return error(s);
    log.error("{} failed unexpectedly", endpoint, e);
    return envelopeError(StatusCodes.INTERNAL_SERVER_ERROR, 500, "internal server error");
  }

  private CompletionStage<HttpResponse> later(Duration delay, HttpResponse response) {
    return backend.delays().later(delay, response);
  }

  // ---- replies ------------------------------------------------------------------------------------

  static CompletionStage<HttpResponse> done(HttpResponse r) {
    return CompletableFuture.completedFuture(r);
  }

  /** {@code {"code":0,"data":…}}. */
  static HttpResponse ok(Object data) {
    ObjectNode env = JsonNodeFactory.instance.objectNode();
    env.put("code", 0);
    env.put("message", "success");
    env.set("data", Json.mapper().valueToTree(data));
    return json(StatusCodes.OK, env);
  }

  /** The render endpoints' envelope: {@code {"success":true,"data":…}}. */
  static HttpResponse success(Object data) {
    ObjectNode env = JsonNodeFactory.instance.objectNode();
    env.put("success", true);
    env.set("data", Json.mapper().valueToTree(data));
    return json(StatusCodes.OK, env);
  }

  /** What a load balancer in front of the backend says when the backend fails it: not JSON at all. */
  static HttpResponse badGateway() {
    return HttpResponse.create().withStatus(StatusCodes.BAD_GATEWAY).withEntity(ContentTypes.TEXT_PLAIN_UTF8, "502 Bad Gateway");
  }

  /** A business error: HTTP 200 + non-zero code, or the matching HTTP status when so configured. */
  HttpResponse error(SimError e) {
    boolean asStatus = e.alwaysHttp || backend.settings.errorsAsHttpStatus();
    HttpResponse r = envelopeError(asStatus ? StatusCodes.get(e.httpStatus) : StatusCodes.OK, e.code, e.getMessage());
    return e.retryAfterSeconds > 0 ? r.addHeader(retryAfter(e.retryAfterSeconds)) : r;
  }

  /** A Retry-After of {@code seconds}, in the configured form. */
  private RawHeader retryAfter(long seconds) {
    String value = backend.settings.retryAfterForm() == SimSettings.RetryAfterForm.HTTP_DATE
        ? DateTimeFormatter.RFC_1123_DATE_TIME.format(
            Instant.ofEpochMilli(backend.nowMillis()).plusSeconds(seconds).atZone(ZoneOffset.UTC))
        : Long.toString(seconds);
    return RawHeader.create("Retry-After", value);
  }

  static HttpResponse envelopeError(StatusCode status, int code, String message) {
    ObjectNode env = JsonNodeFactory.instance.objectNode();
    env.put("code", code);
    env.put("message", message);
    env.putNull("data");
    return json(status, env);
  }

  static HttpResponse json(StatusCode status, Object body) {
    return HttpResponse.create().withStatus(status).withEntity(ContentTypes.APPLICATION_JSON, Json.bytes(body));
  }
}
