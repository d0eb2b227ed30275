package io.reelay.nemo;

import com.fasterxml.jackson.databind.JsonNode;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.reelay.nemo.FailurePolicy.Remedy;
import io.reelay.nemo.NemoClient.RetryNotice;
import io.reelay.protocol.Json;
import io.reelay.protocol.KafkaTracing;
import java.net.URI;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.actor.ClassicActorSystemProvider;
import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.HttpsConnectionContext;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.Authorization;
import org.apache.pekko.http.javadsl.model.headers.HttpCredentials;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.settings.ClientConnectionSettings;
import org.apache.pekko.http.javadsl.settings.ConnectionPoolSettings;
import org.apache.pekko.http.javadsl.settings.ParserSettings;
import org.apache.pekko.pattern.Patterns;
import org.apache.pekko.stream.Materializer;

/**
 * How {@link NemoClient} reaches the backend: the connection pool, the attribution headers on
 * every request, the per-host rate limit, the retry rows of {@link FailurePolicy}, and answers
 * unwrapped from either envelope. Failures come out as {@link NemoException}s.
 *
 * <p>Each attempt of a call is a CLIENT span, named after its endpoint ({@code nemo render-poll}),
 * in the trace current where the call starts (a worker's session makes its request's current); a
 * span carries the endpoint, the attempt and the backend's host, never a URL or a token.
 */
final class NemoTransport {

  private final NemoSettings settings;
  private final ActorSystem system;
  private final Http http;
  // looked up once: Http.defaultClientHttpsContext() is synchronized, and every call would contend on it
  private final HttpsConnectionContext https;
  private final Materializer mat;
  // two pools to the one host: one actor runs a pool, and every connection it opens is set up in
  // that actor, one after another. The agent streams (a connection each, for minutes) get theirs;
  // ordinary calls share a few kept-alive connections, so that a burst of sign-ins queues for one
  // instead of opening thousands next to the streams (each must be taken up within
  // pekko.io.tcp.register-timeout, or it is dropped and the call fails TRANSPORT)
  private final ConnectionPoolSettings callPool;
  private final ConnectionPoolSettings streamPool;
  private final List<HttpHeader> attribution;
  private final LoggingAdapter log;
  private final RateLimiter limiter;
  private final String host; // of the backend, for the spans
  private final Consumer<RetryNotice> onRetry;
  private final Tracer tracer;
  private final MeterRegistry meters;
  private final AtomicInteger openStreams;

  NemoTransport(ClassicActorSystemProvider system, NemoSettings settings, MeterRegistry meters) {
    this.settings = settings;
    this.meters = meters;
    this.openStreams = new AtomicInteger();
    Gauge.builder("reelay_backend_open_streams", openStreams, AtomicInteger::get)
        .description("agent streams (run_sse) open to the backend now")
        .register(meters);
    this.system = system.classicSystem();
    this.http = Http.get(this.system);
    this.https = http.defaultClientHttpsContext();
    this.mat = Materializer.matFromSystem(system);
    this.log = this.system.log();
    this.callPool = pool(this.system, settings.callMaxConnections(), settings.callMaxOpenRequests(), settings.sseHeartbeatTimeout());
    this.streamPool = pool(this.system, settings.maxConnections(), settings.maxOpenRequests(), settings.sseHeartbeatTimeout());
    this.attribution =
        List.of(
            RawHeader.create("X-Skill-Source", settings.skillSource()),
            RawHeader.create("X-Skill-Version", settings.skillVersion()),
            RawHeader.create("X-Skill-Platform", settings.skillPlatform()));
    String hostAndPort = hostOf(settings.baseUrl());
    this.host = hostAndPort.replaceFirst(":-?\\d+$", "");
    this.limiter = RateLimiter.forHost(this.system, hostAndPort, settings.callsPerSecond(), settings.callsBurst());
    this.onRetry = n -> {};
    this.tracer = KafkaTracing.tracer();
  }

  private NemoTransport(NemoTransport base, Consumer<RetryNotice> onRetry) {
    this.settings = base.settings;
    this.system = base.system;
    this.http = base.http;
    this.https = base.https;
    this.mat = base.mat;
    this.log = base.log;
    this.callPool = base.callPool;
    this.streamPool = base.streamPool;
    this.attribution = base.attribution;
    this.limiter = base.limiter;
    this.host = base.host;
    this.onRetry = onRetry;
    this.tracer = base.tracer;
    this.meters = base.meters;
    this.openStreams = base.openStreams;
  }

  /** The same transport (same pool and limiter) telling {@code onRetry} before each retry it makes. */
  NemoTransport withRetryListener(Consumer<RetryNotice> onRetry) {
    return new NemoTransport(this, onRetry);
  }

  private static ConnectionPoolSettings pool(ActorSystem system, int maxConnections, int maxOpenRequests, Duration sseHeartbeatTimeout) {
    Duration idle = sseHeartbeatTimeout.plusSeconds(30);
    return ConnectionPoolSettings.create(system)
        .withMaxConnections(maxConnections)
        .withMaxOpenRequests(maxOpenRequests)
        // retries are FailurePolicy's alone: the pool's own (5 by default, for idempotent
        // methods) would multiply every attempt and hide faults from the policy
        .withMaxRetries(0)
        .withIdleTimeout(idle)
        .withConnectionSettings(
            ClientConnectionSettings.create(system)
                .withIdleTimeout(idle)
                // no header values cached: a connection's parser shares pekko's header trie until it
                // caches its first value, then copies it (~4 KB), and each stream is a connection
                .withParserSettings(ParserSettings.forClient(system).withHeaderValueCacheLimits(Map.of("default", 0)))
                // raw bytes carry the Authorization header: never log them, whatever the config says
                .withLogUnencryptedNetworkBytes(Optional.empty()));
  }

  private static String hostOf(String url) {
    try {
      URI u = URI.create(url);
      return u.getHost() + ":" + u.getPort();
    } catch (IllegalArgumentException e) {
      return url;
    }
  }

  Materializer materializer() {
    return mat;
  }

  /** The count of agent streams open now (the {@code reelay_backend_open_streams} gauge). */
  AtomicInteger openStreams() {
    return openStreams;
  }

  // ---------------------------------------------------------------- requests

  /** A GET of a path on the backend. */
  HttpRequest get(String path) {
    return getUrl(settings.baseUrl() + path);
  }

  /** A GET of any URL (a CDN's too), with the attribution headers and without a token. */
  HttpRequest getUrl(String url) {
    return HttpRequest.GET(url).addHeaders(attribution);
  }

  /** A POST of a path on the backend; {@code body} null for none. */
  HttpRequest post(String path, JsonNode body) {
    HttpRequest r = HttpRequest.create(settings.baseUrl() + path).withMethod(HttpMethods.POST).addHeaders(attribution);
    return body == null ? r : r.withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, Json.bytes(body)));
  }

  static HttpHeader bearer(Token token) {
    return Authorization.create(HttpCredentials.createOAuth2BearerToken(token.reveal()));
  }

  // ---------------------------------------------------------------- calls

  /** One request through the limiter and the call pool; a failure to get an answer is a {@link NemoException.Transport}. */
  CompletionStage<HttpResponse> send(HttpRequest req, String what) {
    return send(req, what, callPool);
  }

  /** A request whose answer is a long stream (/run_sse), through the limiter and the stream pool. */
  CompletionStage<HttpResponse> sendStream(HttpRequest req, String what) {
    return send(req, what, streamPool);
  }

  private CompletionStage<HttpResponse> send(HttpRequest req, String what, ConnectionPoolSettings pool) {
    CompletionStage<Void> permit = limiter == null ? CompletableFuture.completedFuture(null) : limiter.acquire();
    return permit
        .thenCompose(p -> http.singleRequest(req, https, pool, log))
        .exceptionally(
            e -> {
              Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
              throw new NemoException.Transport(what, cause);
            });
  }

  /**
   * One request whose whole answer is JSON in either envelope, within {@code request-timeout} from
   * sending it to the end of its body: a backend that never answers is a {@link
   * NemoException.Transport} (retried with backoff), not a wait for the connection's idle timeout.
   */
  CompletionStage<JsonNode> json(HttpRequest req, String what) {
    return withinRequestTimeout(send(req, what).thenCompose(resp -> strictJson(resp, what)), what);
  }

  private <T> CompletionStage<T> withinRequestTimeout(CompletionStage<T> call, String what) {
    Duration timeout = settings.requestTimeout();
    CompletableFuture<T> answer = new CompletableFuture<>();
    Cancellable timer = system.scheduler().scheduleOnce(timeout,
        () -> answer.completeExceptionally(new NemoException.Transport(what,
            new TimeoutException("no answer within " + timeout.toMillis() + " ms (reelay.nemo.request-timeout)"))),
        system.dispatcher());
    call.whenComplete((v, e) -> {
      timer.cancel();
      if (e != null) {
        answer.completeExceptionally(e instanceof CompletionException && e.getCause() != null ? e.getCause() : e);
      } else {
        answer.complete(v);
      }
    });
    return answer;
  }

  /**
   * Runs a repeatable call, retrying the transport rows of {@link FailurePolicy} (refusals waited
   * out within the refusal budget, 5xx/resets with backoff), each counting its own attempts;
   * everything else fails at once.
   */
  <T> CompletionStage<T> retrying(String what, Supplier<CompletionStage<T>> call) {
    return attempt(what, call, new EnumMap<>(Remedy.class), Duration.ZERO, false, Context.current());
  }

  /** Runs a call that must not be repeated once it may have reached the backend: only refusals (429, 503) are retried. */
  <T> CompletionStage<T> retryingRefusals(String what, Supplier<CompletionStage<T>> call) {
    return attempt(what, call, new EnumMap<>(Remedy.class), Duration.ZERO, true, Context.current());
  }

  private <T> CompletionStage<T> attempt(String what, Supplier<CompletionStage<T>> call, Map<Remedy, Integer> attempts,
      Duration waited, boolean refusalsOnly, Context parent) {
    long start = System.nanoTime();
    Span span = tracer.spanBuilder("nemo " + what)
        .setSpanKind(SpanKind.CLIENT)
        .setParent(parent)
        .setAttribute("reelay.backend.endpoint", what)
        .setAttribute("reelay.backend.attempt", 1 + attempts.values().stream().mapToInt(Integer::intValue).sum())
        .setAttribute("server.address", host)
        .startSpan();
    CompletionStage<T> called;
    try (Scope ignored = parent.with(span).makeCurrent()) {
      called = call.get();
    } catch (RuntimeException e) {
      span.setStatus(StatusCode.ERROR, e.getClass().getSimpleName());
      span.end();
      throw e;
    }
    return called
        .handle((ok, err) -> {
          if (err == null) {
            span.end();
            called(what, "ok", start);
            if (limiter != null) {
              limiter.succeeded();
            }
            return CompletableFuture.completedFuture(ok);
          }
          Throwable cause = FailurePolicy.unwrap(err);
          String failed = cause instanceof NemoException n ? n.code() : cause.getClass().getSimpleName();
          span.setAttribute("error.type", failed);
          span.setStatus(StatusCode.ERROR, failed);
          span.end();
          called(what, "error", start);
          Counter.builder("reelay_backend_errors").description("backend calls that failed, by endpoint and code")
              .tag("endpoint", what).tag("code", failed).register(meters).increment();
          Remedy remedy = FailurePolicy.remedy(cause);
          if (remedy == Remedy.WAIT && limiter != null && cause instanceof NemoException.Http h && h.status() == 429) {
            limiter.rateLimited();
          }
          int attempt = attempts.merge(remedy, 1, Integer::sum);
          Duration wait = settings.retry().delay(cause, attempt, waited, ThreadLocalRandom.current().nextDouble());
          if (wait == null || (refusalsOnly && remedy != Remedy.WAIT)) {
            return CompletableFuture.<T>failedFuture(cause);
          }
          String code = failed;
          Counter.builder("reelay_backend_retries").description("retries of backend calls, by remedy")
              .tag("remedy", remedy.name()).register(meters).increment();
          // a transport failure's (redacted) message tells a connect timeout from a reset or an unread entity
          log.info("{} failed ({}), retry {} in {} ms", what,
              cause instanceof NemoException.Transport ? code + ": " + cause.getMessage() : code, attempt, wait.toMillis());
          onRetry.accept(new RetryNotice(what, attempt, wait, code, remedy == Remedy.WAIT ? FailurePolicy.refusalReason(cause) : null));
          Duration total = remedy == Remedy.WAIT ? waited.plus(wait) : waited;
          return Patterns.after(wait, system.scheduler(), system.dispatcher(), () -> attempt(what, call, attempts, total, refusalsOnly, parent));
        })
        .thenCompose(x -> x);
  }

  /** Times one attempt of a backend call (to its answer; for run_sse, to the stream's start). */
  private void called(String endpoint, String outcome, long startNanos) {
    Timer.builder("reelay_backend_calls")
        .description("backend call attempts, to the answer (run_sse: to the stream's start)")
        .tag("endpoint", endpoint)
        .tag("outcome", outcome)
        .publishPercentileHistogram()
        .register(meters)
        .record(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS);
  }

  /** Reads a whole JSON answer and unwraps either envelope; errors become {@link NemoException}s. */
  CompletionStage<JsonNode> strictJson(HttpResponse resp, String what) {
    int status = resp.status().intValue();
    String retryAfter = resp.getHeader("Retry-After").map(HttpHeader::value).orElse(null);
    return onDispatcher(resp.entity().toStrict(settings.requestTimeout().toMillis(), mat))
        .exceptionally(
            e -> {
              throw new NemoException.Transport(what + " body", e instanceof CompletionException ? e.getCause() : e);
            })
        .thenApply(strict -> Envelope.unwrap(status, strict.getData().toArray(), retryAfter));
  }

  /**
   * A stage pekko returns (a Scala future) as a plain future completed on the system's dispatcher.
   * The Scala wrapper runs every dependent added to it "async" on ForkJoinPool.commonPool, and on a
   * machine with 2 cores that pool has parallelism 1, so CompletableFuture starts a new thread for
   * each: one thread per call.
   */
  private <T> CompletableFuture<T> onDispatcher(CompletionStage<T> stage) {
    CompletableFuture<T> plain = new CompletableFuture<>();
    stage.whenCompleteAsync((v, e) -> {
      if (e != null) {
        plain.completeExceptionally(e);
      } else {
        plain.complete(v);
      }
    }, system.dispatcher());
    return plain;
  }
}
