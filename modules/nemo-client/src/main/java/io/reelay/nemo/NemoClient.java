package io.reelay.nemo;

import static io.reelay.nemo.NemoTransport.bearer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.reelay.nemo.Answers.AnonymousToken;
import io.reelay.nemo.Answers.BackendSession;
import io.reelay.nemo.Answers.Credits;
import io.reelay.nemo.Answers.RenderJob;
import io.reelay.nemo.Answers.SessionState;
import io.reelay.protocol.Json;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.ClassicActorSystemProvider;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.Multipart;
import org.apache.pekko.http.javadsl.model.Multiparts;
import org.apache.pekko.http.javadsl.model.headers.Accept;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.stream.javadsl.FileIO;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.StreamConverters;
import org.apache.pekko.util.ByteString;

/**
 * The typed, non-blocking client of the NemoVideo backend (nemo-api.md §3). The only code that
 * speaks to it: attribution headers on every call, both envelope styles, both render-poll shapes,
 * the tolerant SSE reader, and errors as {@link NemoException}s that never carry a secret. The
 * endpoints are here; how a request reaches the backend (pool, rate limit, retries, envelopes) is
 * {@link NemoTransport}'s.
 */
public final class NemoClient {

  /**
   * A retry the client is about to make: who may want to tell a person about it. {@code refused}:
   * why the backend did not take the call ("rate limited", "overloaded"), null for other faults.
   */
  public record RetryNotice(String call, int attempt, Duration delay, String code, String refused) {}

  private final NemoSettings settings;
  private final NemoTransport transport;
  // what renders of this backend taught about its progress convention, shared by every poller
  private final RenderPoller.Convention renderConvention;

  public NemoClient(ClassicActorSystemProvider system, NemoSettings settings) {
    this(system, settings, Metrics.globalRegistry);
  }

  /** A client whose backend calls, errors, retries and open streams are measured in {@code meters}. */
  public NemoClient(ClassicActorSystemProvider system, NemoSettings settings, MeterRegistry meters) {
    this.settings = settings;
    this.transport = new NemoTransport(system, settings, meters);
    this.renderConvention = new RenderPoller.Convention();
  }

  private NemoClient(NemoClient base, Consumer<RetryNotice> onRetry) {
    this.settings = base.settings;
    this.transport = base.transport.withRetryListener(onRetry);
    this.renderConvention = base.renderConvention;
  }

  /** The same client (same pool and limiter) telling {@code onRetry} before each retry it makes. */
  public NemoClient withRetryListener(Consumer<RetryNotice> onRetry) {
    return new NemoClient(this, onRetry);
  }

  public NemoSettings settings() {
    return settings;
  }

  // ---------------------------------------------------------------- E1, E2

  /** E1: an anonymous token for a client id (the same id gets its token back within 7 days). */
  public CompletionStage<AnonymousToken> anonymousToken(String clientId) {
    HttpRequest req =
        transport.post("/api/auth/anonymous-token", null).addHeader(RawHeader.create("X-Client-Id", clientId));
    return transport.retrying("anonymous-token", () -> transport.json(req, "anonymous-token"))
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
    HttpRequest req = transport.post("/api/tasks/me/with-session/nemo_agent", body).addHeader(bearer(token));
    return transport.retrying("session", () -> transport.json(req, "session"))
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
        transport.post("/run_sse", body)
            .addHeader(bearer(token))
            .addHeader(Accept.create(MediaTypes.TEXT_EVENT_STREAM.toRange()));
    // a 429 before the stream means the message was refused, not run: safe to send once more;
    // any other failure may have reached the agent, and re-sending would pay twice
    long deadline = System.nanoTime() + settings.sseTotalTimeout().toNanos(); // the whole call, headers included
    CompletionStage<Source<AgentEvent, NotUsed>> opened = transport.retryingRefusals("run_sse", () ->
        transport.sendStream(req, "run_sse")
            .thenCompose(
                resp -> {
                  boolean isStream =
                      resp.entity().getContentType().mediaType().equals(MediaTypes.TEXT_EVENT_STREAM);
                  if (resp.status().isSuccess() && isStream) {
                    return CompletableFuture.completedFuture(events(resp, deadline));
                  }
                  // an envelope error (1001, 1002, 2001, …) comes before any stream
                  return transport.strictJson(resp, "run_sse")
                      .thenApply(
                          d -> {
                            throw new NemoException.Stream(
                                "NOT_A_STREAM", "run_sse answered without an event stream");
                          });
                }))
        .toCompletableFuture()
        .orTimeout(settings.sseTotalTimeout().toMillis(), TimeUnit.MILLISECONDS)
        .exceptionally(e -> {
          if (FailurePolicy.unwrap(e) instanceof TimeoutException) {
            throw new NemoException.Stream("SSE_TIMEOUT", "no stream within " + settings.sseTotalTimeout());
          }
          throw e instanceof CompletionException c ? c : new CompletionException(e);
        });
    return Source.completionStageSource(opened).mapMaterializedValue(m -> NotUsed.getInstance());
  }

  private Source<AgentEvent, NotUsed> events(HttpResponse resp, long deadlineNanos) {
    return resp.entity()
        .getDataBytes()
        .via(new SseReader(settings.sseMaxLineBytes(), settings.sseHeartbeatTimeout(), deadlineNanos, transport.openStreams()))
        .mapMaterializedValue(m -> NotUsed.getInstance());
  }

  /**
   * Bytes → {@link AgentEvent}s ({@link SseReader}); fails the stream when only heartbeats (or
   * nothing) arrived for {@code stall}. For tests of the decoder on recorded wire bytes.
   */
  static Flow<ByteString, AgentEvent, NotUsed> decode(int maxLine, Duration stall) {
    return Flow.fromGraph(new SseReader(maxLine, stall, Long.MAX_VALUE, null));
  }

  // ---------------------------------------------------------------- E3, E5

  /** E3: a browser claim token ({@code clm_…}) for the session; it cannot call the API. */
  public CompletionStage<Token> claimToken(Token token, String taskId, String sessionId) {
    ObjectNode body = Json.mapper().createObjectNode().put("task_id", taskId).put("session_id", sessionId);
    HttpRequest req = transport.post("/api/auth/claim-token", body).addHeader(bearer(token));
    return transport.retrying("claim-token", () -> transport.json(req, "claim-token"))
        .thenApply(d -> Token.of(d.path("claim_token").asText()));
  }

  /** E5, URL form: the backend fetches the files itself. */
  public CompletionStage<List<UploadedFile>> uploadUrls(Token token, String sessionId, List<String> urls) {
    ObjectNode body = Json.mapper().createObjectNode().put("source_type", "url");
    urls.forEach(body.putArray("urls")::add);
    HttpRequest req = transport.post("/api/upload-video/nemo_agent/me/" + sessionId, body).addHeader(bearer(token));
    return transport.json(req, "upload").thenApply(NemoClient::uploaded);
  }

  /**
   * E5, multipart: one {@code files} part per file, streamed from its open channel. Not retried: a
   * second upload would duplicate media. Every file's channel is closed when the call ends, however
   * it ends (answered, refused, failed, or never sent).
   */
  public CompletionStage<List<UploadedFile>> uploadFiles(Token token, String sessionId, List<LocalFile> files) {
    CompletionStage<List<UploadedFile>> sent;
    try {
      List<Multipart.FormData.BodyPart> parts = new ArrayList<>();
      for (LocalFile f : files) {
        parts.add(f.part());
      }
      HttpRequest req =
          transport.post("/api/upload-video/nemo_agent/me/" + sessionId, null)
              .addHeader(bearer(token))
              .withEntity(Multiparts.createFormDataFromParts(parts.toArray(Multipart.FormData.BodyPart[]::new)).toEntity());
      sent = transport.json(req, "upload").thenApply(NemoClient::uploaded);
    } catch (RuntimeException e) {
      sent = CompletableFuture.failedFuture(e);
    }
    return sent.whenComplete((ok, err) -> files.forEach(LocalFile::close));
  }

  /**
   * A local file to upload: its name for the backend, its content type, its size, and the channel
   * its bytes are read from (from where it stands to its end; more than {@code bytes} fails the
   * upload). The upload owns the channel and closes it.
   */
  public record LocalFile(String fileName, ContentType contentType, long bytes, ReadableByteChannel channel) {

    /** Opens the file at {@code path} (for callers that did not open it themselves). */
    public static LocalFile open(Path path, ContentType contentType) throws IOException {
      FileChannel channel = FileChannel.open(path, StandardOpenOption.READ);
      try {
        return new LocalFile(path.getFileName().toString(), contentType, channel.size(), channel);
      } catch (IOException | RuntimeException e) {
        channel.close();
        throw e;
      }
    }

    Multipart.FormData.BodyPart part() {
      // closing the stream (done, failed or cancelled) closes the channel
      Source<ByteString, ?> data = StreamConverters.fromInputStream(() -> Channels.newInputStream(channel))
          .limitWeighted(bytes, b -> (long) b.size());
      return Multiparts.createFormDataBodyPart("files", HttpEntities.create(contentType, bytes, data),
          Map.of("filename", fileName));
    }

    void close() {
      try {
        channel.close();
      } catch (IOException ignored) {
        // only read from
      }
    }
  }

  /** E5's answer, per file; {@code duration} in seconds (the draft uses milliseconds). */
  public record UploadedFile(String filename, String fileType, String cdnUrl, Double duration, Integer width, Integer height) {}

  private static List<UploadedFile> uploaded(JsonNode d) {
    List<UploadedFile> out = new ArrayList<>();
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
    HttpRequest req = transport.get("/api/credits/balance/simple").addHeader(bearer(token));
    return transport.retrying("credits", () -> transport.json(req, "credits"))
        .thenApply(
            d -> {
              long available = d.path("available").asLong(0);
              long frozen = d.path("frozen").asLong(0);
              return new Credits(available, frozen, d.path("total").asLong(available + frozen));
            });
  }

  /** E7: the latest state of a session (draft, media). */
  public CompletionStage<SessionState> state(Token token, String sessionId) {
    HttpRequest req = transport.get("/api/state/nemo_agent/me/" + sessionId + "/latest").addHeader(bearer(token));
    return transport.retrying("state", () -> transport.json(req, "state"))
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
    HttpRequest req = transport.post("/api/render/proxy/lambda", body).addHeader(bearer(token));
    return transport.retrying("render-submit", () -> transport.json(req, "render-submit"))
        .thenApply(d -> renderJob(d, renderId));
  }

  /** E9: polls a render; reads {@code data.status/outputUrl} and top-level {@code status/output.url}. */
  public CompletionStage<RenderJob> pollRender(Token token, String renderId) {
    HttpRequest req = transport.get("/api/render/proxy/lambda/" + renderId).addHeader(bearer(token));
    return transport.retrying("render-poll", () -> transport.json(req, "render-poll"))
        .thenApply(d -> renderJob(d, renderId));
  }

  /** E11: cancels a pending render. */
  public CompletionStage<Void> cancelRender(Token token, String renderId) {
    HttpRequest req = transport.post("/api/render/proxy/lambda/" + renderId + "/cancel", null).addHeader(bearer(token));
    return transport.retrying("render-cancel", () -> transport.json(req, "render-cancel"))
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
    HttpRequest req = transport.getUrl(url);
    if (token.isPresent() && url.startsWith(settings.baseUrl() + "/")) {
      req = req.addHeader(bearer(token.get()));
    }
    HttpRequest finalReq = req;
    return transport.retrying("download", () -> transport.send(finalReq, "download")
        .thenCompose(
            resp -> {
              if (!resp.status().isSuccess()) {
                resp.discardEntityBytes(transport.materializer());
                throw new NemoException.Http(resp.status().intValue(), "download failed", null);
              }
              return resp.entity().getDataBytes().runWith(FileIO.toPath(target), transport.materializer());
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
