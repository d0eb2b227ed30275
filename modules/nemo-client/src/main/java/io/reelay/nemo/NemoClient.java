package io.reelay.nemo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.reelay.nemo.Answers.AnonymousToken;
import io.reelay.nemo.Answers.BackendSession;
import io.reelay.nemo.Answers.Credits;
import io.reelay.nemo.Answers.RenderJob;
import io.reelay.nemo.Answers.SessionState;
import io.reelay.protocol.Json;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.ClassicActorSystemProvider;
import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.pattern.Patterns;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.Multipart;
import org.apache.pekko.http.javadsl.model.Multiparts;
import org.apache.pekko.http.javadsl.model.headers.Accept;
import org.apache.pekko.http.javadsl.model.headers.Authorization;
import org.apache.pekko.http.javadsl.model.headers.HttpCredentials;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.settings.ClientConnectionSettings;
import org.apache.pekko.http.javadsl.settings.ConnectionPoolSettings;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.FileIO;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Framing;
import org.apache.pekko.stream.javadsl.FramingTruncation;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;

/**
 * The typed, non-blocking client of the NemoVideo backend (nemo-api.md §3). The only code that
 * speaks to it: attribution headers on every call, both envelope styles, both render-poll shapes,
 * the tolerant SSE reader, and errors as {@link NemoException}s that never carry a secret.
 */
public final class NemoClient {

  private static final ByteString NEWLINE = ByteString.fromString("\n");

  /** A retry the client is about to make: who may want to tell a person about it. */
  public record RetryNotice(String call, int attempt, Duration delay, String code) {}

  private final NemoSettings settings;
  private final org.apache.pekko.actor.ActorSystem system;
  private final Http http;
  private final Materializer mat;
  private final ConnectionPoolSettings pool;
  private final List<HttpHeader> attribution;
  private final LoggingAdapter log;
  private final RateLimiter limiter;
  private final Consumer<RetryNotice> onRetry;
  private final RenderPoller.Convention renderConvention = new RenderPoller.Convention();

  public NemoClient(ClassicActorSystemProvider system, NemoSettings settings) {
    this.settings = settings;
    this.system = system.classicSystem();
    this.http = Http.get(this.system);
    this.mat = Materializer.matFromSystem(system);
    this.log = this.system.log();
    Duration idle = settings.sseHeartbeatTimeout().plusSeconds(30);
    this.pool =
        ConnectionPoolSettings.create(this.system)
            .withMaxConnections(settings.maxConnections())
            .withMaxOpenRequests(settings.maxOpenRequests())
            // retries are FailurePolicy's alone: the pool's own (5 by default, for idempotent
            // methods) would multiply every attempt and hide faults from the policy
            .withMaxRetries(0)
            .withIdleTimeout(idle)
            .withConnectionSettings(
                ClientConnectionSettings.create(this.system)
                    .withIdleTimeout(idle)
                    // raw bytes carry the Authorization header: never log them, whatever the config says
                    .withLogUnencryptedNetworkBytes(Optional.empty()));
    this.attribution =
        List.of(
            RawHeader.create("X-Skill-Source", settings.skillSource()),
            RawHeader.create("X-Skill-Version", settings.skillVersion()),
            RawHeader.create("X-Skill-Platform", settings.skillPlatform()));
    this.limiter =
        RateLimiter.forHost(this.system, hostOf(settings.baseUrl()), settings.callsPerSecond(), settings.callsBurst());
    this.onRetry = n -> {};
  }

  private NemoClient(NemoClient base, Consumer<RetryNotice> onRetry) {
    this.settings = base.settings;
    this.system = base.system;
    this.http = base.http;
    this.mat = base.mat;
    this.log = base.log;
    this.pool = base.pool;
    this.attribution = base.attribution;
    this.limiter = base.limiter;
    this.onRetry = onRetry;
  }

  /** The same client (same pool and limiter) telling {@code onRetry} before each retry it makes. */
  public NemoClient withRetryListener(Consumer<RetryNotice> onRetry) {
    return new NemoClient(this, onRetry);
  }

  private static String hostOf(String url) {
    try {
      java.net.URI u = java.net.URI.create(url);
      return u.getHost() + ":" + u.getPort();
    } catch (IllegalArgumentException e) {
      return url;
    }
  }

  public NemoSettings settings() {
    return settings;
  }

  // ---------------------------------------------------------------- E1, E2

  /** E1: an anonymous token for a client id (the same id gets its token back within 7 days). */
  public CompletionStage<AnonymousToken> anonymousToken(String clientId) {
    HttpRequest req =
        post("/api/auth/anonymous-token", null).addHeader(RawHeader.create("X-Client-Id", clientId));
    return retrying("anonymous-token", () -> json(req, "anonymous-token"))
        .thenApply(
            d ->
                new AnonymousToken(
                    Token.of(d.path("token").asText()),
                    d.path("user_id").asText(null),
                    parseInstant(d.path("expires_at").asText(null)),
                    d.path("credits").asLong(0)));
  }

  /** E2: a new task and agent session. */
  public CompletionStage<BackendSession> createSession(Token token, String language) {
    ObjectNode body = Json.mapper().createObjectNode().put("task_name", "project");
    if (language != null && !language.isBlank()) {
      body.put("language", language);
    }
    HttpRequest req = post("/api/tasks/me/with-session/nemo_agent", body).addHeader(bearer(token));
    return retrying("session", () -> json(req, "session"))
        .thenApply(d -> new BackendSession(d.path("task_id").asText(null), d.path("session_id").asText()));
  }

  // ---------------------------------------------------------------- E4

  /**
   * E4: sends one user message and streams the agent's answer. The source completes when the
   * backend closes the stream, fails with a {@link NemoException} on an error payload, after {@code
   * sse-heartbeat-timeout} without anything but heartbeats, or after {@code sse-total-timeout}.
   * Cancelling it closes the connection. Never re-run it for the same message: that pays twice.
   */
  public Source<AgentEvent, NotUsed> runSse(Token token, String sessionId, String text) {
    ObjectNode body = Json.mapper().createObjectNode();
    body.put("app_name", "nemo_agent").put("user_id", "me").put("session_id", sessionId);
    body.putObject("new_message").putArray("parts").addObject().put("text", text);
    HttpRequest req =
        post("/run_sse", body)
            .addHeader(bearer(token))
            .addHeader(Accept.create(MediaTypes.TEXT_EVENT_STREAM.toRange()));
    // a 429 before the stream means the message was refused, not run: safe to send once more;
    // any other failure may have reached the agent, and re-sending would pay twice
    CompletionStage<Source<AgentEvent, NotUsed>> opened = attempt("run_sse", () ->
        send(req, "run_sse")
            .thenCompose(
                resp -> {
                  boolean isStream =
                      resp.entity().getContentType().mediaType().equals(MediaTypes.TEXT_EVENT_STREAM);
                  if (resp.status().isSuccess() && isStream) {
                    return CompletableFuture.completedFuture(events(resp));
                  }
                  // an envelope error (1001, 1002, 2001, …) comes before any stream
                  return strictJson(resp, "run_sse")
                      .thenApply(
                          d -> {
                            throw new NemoException.Stream(
                                "NOT_A_STREAM", "run_sse answered without an event stream");
                          });
                }), 1, true);
    return Source.completionStageSource(opened)
        .mapMaterializedValue(m -> NotUsed.getInstance())
        .completionTimeout(settings.sseTotalTimeout())
        .mapError(
            TimeoutException.class,
            e -> new NemoException.Stream("SSE_TIMEOUT", "stream open longer than " + settings.sseTotalTimeout()));
  }

  private Source<AgentEvent, NotUsed> events(HttpResponse resp) {
    return resp.entity()
        .getDataBytes()
        .mapError(
            Throwable.class,
            // a connection lost mid-stream is not a transport retry: the message may be running; never re-send
            e -> e instanceof NemoException ? e : new NemoException.Stream("STREAM_CUT", "the stream broke off: " + e.getMessage()))
        .via(decode(settings.sseMaxLineBytes(), settings.sseHeartbeatTimeout()))
        .mapMaterializedValue(m -> NotUsed.getInstance());
  }

  private enum Tick { INSTANCE }

  /**
   * Bytes → {@link AgentEvent}s; fails the stream when only heartbeats (or nothing) arrived for
   * {@code stall}. Public for tests of the decoder on recorded wire bytes.
   */
  static Flow<ByteString, AgentEvent, NotUsed> decode(int maxLine, Duration stall) {
    Duration check = clamp(stall.dividedBy(20), Duration.ofMillis(20), Duration.ofSeconds(5));
    return Flow.of(ByteString.class)
        .via(Framing.delimiter(NEWLINE, maxLine, FramingTruncation.ALLOW))
        .map(ByteString::utf8String)
        .<Object>map(line -> line)
        .merge(Source.tick(check, check, Tick.INSTANCE), true)
        .statefulMap(
            StreamState::new,
            (st, in) -> {
              if (in instanceof Tick) {
                if (System.nanoTime() - st.lastNews > stall.toNanos()) {
                  throw new NemoException.Stream(
                      "SSE_STALLED", "only heartbeats for " + stall + ", giving up on the stream");
                }
                return Pair.create(st, new Batch(List.of(), false));
              }
              List<AgentEvent> out = st.decoder.onLine((String) in);
              for (AgentEvent e : out) {
                if (!(e instanceof AgentEvent.Heartbeat)) {
                  st.lastNews = System.nanoTime();
                }
              }
              return Pair.create(st, new Batch(out, st.decoder.ended()));
            },
            st -> Optional.of(new Batch(st.decoder.onEnd(), false)))
        // [DONE] or a done event ends the stream even if the server keeps the connection open
        .takeWhile(batch -> !batch.last(), true)
        .mapConcat(Batch::events)
        .mapMaterializedValue(m -> NotUsed.getInstance())
        .named("sse-decode");
  }

  private record Batch(List<AgentEvent> events, boolean last) {}

  private static final class StreamState {
    final SseDecoder decoder = new SseDecoder();
    long lastNews = System.nanoTime();
  }

  private static Duration clamp(Duration d, Duration min, Duration max) {
    return d.compareTo(min) < 0 ? min : d.compareTo(max) > 0 ? max : d;
  }

  // ---------------------------------------------------------------- E3, E5

  /** E3: a browser claim token ({@code clm_…}) for the session; it cannot call the API. */
  public CompletionStage<Token> claimToken(Token token, String taskId, String sessionId) {
    ObjectNode body = Json.mapper().createObjectNode().put("task_id", taskId).put("session_id", sessionId);
    HttpRequest req = post("/api/auth/claim-token", body).addHeader(bearer(token));
    return retrying("claim-token", () -> json(req, "claim-token"))
        .thenApply(d -> Token.of(d.path("claim_token").asText()));
  }

  /** E5, URL form: the backend fetches the files itself. */
  public CompletionStage<List<UploadedFile>> uploadUrls(Token token, String sessionId, List<String> urls) {
    ObjectNode body = Json.mapper().createObjectNode().put("source_type", "url");
    urls.forEach(body.putArray("urls")::add);
    HttpRequest req = post("/api/upload-video/nemo_agent/me/" + sessionId, body).addHeader(bearer(token));
    return json(req, "upload").thenApply(NemoClient::uploaded);
  }

  /** E5, multipart: one {@code files} part per file. Not retried: a second upload would duplicate media. */
  public CompletionStage<List<UploadedFile>> uploadFiles(Token token, String sessionId, List<LocalFile> files) {
    List<Multipart.FormData.BodyPart> parts = new java.util.ArrayList<>();
    for (LocalFile f : files) {
      parts.add(Multiparts.createFormDataPartFromPath("files", f.contentType(), f.path()));
    }
    HttpRequest req =
        HttpRequest.create(settings.baseUrl() + "/api/upload-video/nemo_agent/me/" + sessionId)
            .withMethod(HttpMethods.POST)
            .addHeaders(attribution)
            .addHeader(bearer(token))
            .withEntity(Multiparts.createFormDataFromParts(parts.toArray(Multipart.FormData.BodyPart[]::new)).toEntity());
    return json(req, "upload").thenApply(NemoClient::uploaded);
  }

  /** A local file to upload with its content type. */
  public record LocalFile(Path path, org.apache.pekko.http.javadsl.model.ContentType contentType) {}

  /** E5's answer, per file; {@code duration} in seconds (the draft uses milliseconds). */
  public record UploadedFile(String filename, String fileType, String cdnUrl, Double duration, Integer width, Integer height) {}

  private static List<UploadedFile> uploaded(JsonNode d) {
    List<UploadedFile> out = new java.util.ArrayList<>();
    for (JsonNode f : d.path("files")) {
      out.add(new UploadedFile(
          f.path("filename").asText(null), f.path("file_type").asText(null), f.path("cdn_url").asText(null),
          f.path("duration").isNumber() ? f.get("duration").asDouble() : null,
          f.path("width").isNumber() ? f.get("width").asInt() : null,
          f.path("height").isNumber() ? f.get("height").asInt() : null));
    }
    return out;
  }

  // ---------------------------------------------------------------- E6, E7

  /** E6: the credit balance. */
  public CompletionStage<Credits> credits(Token token) {
    HttpRequest req = get("/api/credits/balance/simple").addHeader(bearer(token));
    return retrying("credits", () -> json(req, "credits"))
        .thenApply(
            d -> {
              long available = d.path("available").asLong(0);
              long frozen = d.path("frozen").asLong(0);
              return new Credits(available, frozen, d.path("total").asLong(available + frozen));
            });
  }

  /** E7: the latest state of a session (draft, media). */
  public CompletionStage<SessionState> state(Token token, String sessionId) {
    HttpRequest req = get("/api/state/nemo_agent/me/" + sessionId + "/latest").addHeader(bearer(token));
    return retrying("state", () -> json(req, "state"))
        .thenApply(
            d ->
                new SessionState(
                    d.path("session_id").asText(sessionId),
                    d.path("task_id").asText(null),
                    d.path("task_name").asText(null),
                    d.path("state")));
  }

  // ---------------------------------------------------------------- E8–E11

  /** E8: starts a render under a client-chosen id (render is free of credits). */
  public CompletionStage<RenderJob> submitRender(
      Token token, String renderId, String sessionId, JsonNode draft, String format, String quality) {
    ObjectNode body = Json.mapper().createObjectNode();
    body.put("id", renderId).put("sessionId", sessionId);
    body.set("draft", draft);
    body.putObject("output").put("format", format).put("quality", quality);
    // repeatable: the backend answers a known id with that job instead of starting a second one
    HttpRequest req = post("/api/render/proxy/lambda", body).addHeader(bearer(token));
    return retrying("render-submit", () -> json(req, "render-submit"))
        .thenApply(d -> renderJob(d, renderId));
  }

  /** E9: polls a render; reads {@code data.status/outputUrl} and top-level {@code status/output.url}. */
  public CompletionStage<RenderJob> pollRender(Token token, String renderId) {
    HttpRequest req = get("/api/render/proxy/lambda/" + renderId).addHeader(bearer(token));
    return retrying("render-poll", () -> json(req, "render-poll"))
        .thenApply(d -> renderJob(d, renderId));
  }

  /** E11: cancels a pending render. */
  public CompletionStage<Void> cancelRender(Token token, String renderId) {
    HttpRequest req = post("/api/render/proxy/lambda/" + renderId + "/cancel", null).addHeader(bearer(token));
    return retrying("render-cancel", () -> json(req, "render-cancel"))
        .thenApply(d -> null);
  }

  /** What this backend's renders have shown about their progress, shared by every {@link RenderPoller} on it. */
  public RenderPoller.Convention renderConvention() {
    return renderConvention;
  }

  /** The fallback download endpoint E10, for when {@code outputUrl} cannot be fetched. */
  public String fallbackDownloadUrl(String renderId) {
    return settings.baseUrl() + "/api/render/proxy/" + renderId + "/download";
  }

  /**
   * Downloads a finished file to {@code target}. The token is sent only to the backend's own host
   * (the E10 fallback), never to a third-party CDN URL.
   */
  public CompletionStage<Path> download(String url, Optional<Token> token, Path target) {
    HttpRequest req = HttpRequest.GET(url).addHeaders(attribution);
    if (token.isPresent() && url.startsWith(settings.baseUrl() + "/")) {
      req = req.addHeader(bearer(token.get()));
    }
    HttpRequest finalReq = req;
    return retrying("download", () -> send(finalReq, "download")
        .thenCompose(
            resp -> {
              if (!resp.status().isSuccess()) {
                resp.discardEntityBytes(mat);
                throw new NemoException.Http(resp.status().intValue(), "download failed", null);
              }
              return resp.entity().getDataBytes().runWith(FileIO.toPath(target), mat);
            }))
        .thenApply(io -> target);
  }

  static RenderJob renderJob(JsonNode d, String fallbackId) {
    String url = firstText(d.path("outputUrl"), d.path("output").path("url"), d.path("url"));
    JsonNode progress = d.path("progress");
    return new RenderJob(
        d.path("id").asText(d.path("taskId").asText(fallbackId)),
        d.path("status").asText("unknown"),
        progress.isNumber() ? progress.asInt() : null,
        url,
        d.hasNonNull("error") ? Redact.text(d.get("error").asText()) : null,
        d.path("completedAt").isNumber() ? d.get("completedAt").asLong() : null);
  }

  private static String firstText(JsonNode... nodes) {
    for (JsonNode n : nodes) {
      if (n.isTextual() && !n.asText().isBlank()) {
        return n.asText();
      }
    }
    return null;
  }

  // ---------------------------------------------------------------- plumbing

  private HttpRequest get(String path) {
    return HttpRequest.GET(settings.baseUrl() + path).addHeaders(attribution);
  }

  private HttpRequest post(String path, JsonNode body) {
    HttpRequest r = HttpRequest.create(settings.baseUrl() + path).withMethod(HttpMethods.POST).addHeaders(attribution);
    return body == null ? r : r.withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, Json.bytes(body)));
  }

  private static HttpHeader bearer(Token token) {
    return Authorization.create(HttpCredentials.createOAuth2BearerToken(token.reveal()));
  }

  private CompletionStage<HttpResponse> send(HttpRequest req, String what) {
    CompletionStage<Void> permit = limiter == null ? CompletableFuture.completedFuture(null) : limiter.acquire();
    return permit
        .thenCompose(p -> http.singleRequest(req, http.defaultClientHttpsContext(), pool, log))
        .exceptionally(
            e -> {
              Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
              throw new NemoException.Transport(what, cause);
            });
  }

  /**
   * Runs a repeatable call, retrying the transport rows of {@link FailurePolicy} (429 once after
   * the stated wait, 5xx/resets with backoff); everything else fails at once.
   */
  private <T> CompletionStage<T> retrying(String what, Supplier<CompletionStage<T>> call) {
    return attempt(what, call, 1, false);
  }

  private <T> CompletionStage<T> attempt(String what, Supplier<CompletionStage<T>> call, int attempt, boolean only429) {
    return call.get()
        .handle((ok, err) -> {
          if (err == null) {
            return CompletableFuture.completedFuture(ok);
          }
          Throwable cause = FailurePolicy.unwrap(err);
          Duration wait = settings.retry().delay(cause, attempt, ThreadLocalRandom.current().nextDouble());
          if (wait == null || (only429 && FailurePolicy.remedy(cause) != FailurePolicy.Remedy.WAIT_AND_RETRY_ONCE)) {
            return CompletableFuture.<T>failedFuture(cause);
          }
          String code = cause instanceof NemoException n ? n.code() : cause.getClass().getSimpleName();
          log.info("{} failed ({}), retry {} in {} ms", what, code, attempt, wait.toMillis());
          onRetry.accept(new RetryNotice(what, attempt, wait, code));
          return Patterns.after(wait, system.scheduler(), system.dispatcher(), () -> attempt(what, call, attempt + 1, only429));
        })
        .thenCompose(x -> x);
  }

  private CompletionStage<JsonNode> json(HttpRequest req, String what) {
    return send(req, what).thenCompose(resp -> strictJson(resp, what));
  }

  /** Reads a whole JSON answer and unwraps either envelope; errors become {@link NemoException}s. */
  private CompletionStage<JsonNode> strictJson(HttpResponse resp, String what) {
    int status = resp.status().intValue();
    String retryAfter = resp.getHeader("Retry-After").map(HttpHeader::value).orElse(null);
    return resp.entity()
        .toStrict(settings.requestTimeout().toMillis(), mat)
        .exceptionally(
            e -> {
              throw new NemoException.Transport(what + " body", e instanceof CompletionException ? e.getCause() : e);
            })
        .thenApply(strict -> Envelope.unwrap(status, strict.getData().toArray(), retryAfter));
  }

  private static Instant parseInstant(String s) {
    if (s == null || s.isBlank()) {
      return null;
    }
    try {
      return Instant.parse(s);
    } catch (RuntimeException e) {
      return null;
    }
  }
}
