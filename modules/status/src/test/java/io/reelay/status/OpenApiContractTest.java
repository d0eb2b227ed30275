package io.reelay.status;

import static io.reelay.status.Events.event;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.typesafe.config.ConfigFactory;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.Phase;
import io.opentelemetry.context.Context;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.Schemas;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * {@code GET /openapi.yaml} against the routes that really answer: the document parses as OpenAPI
 * 3.1 without messages, every route the server answers is in it (and none it does not answer),
 * and real answers — status, listings, SSE events, submit and cancel, every error — validate
 * against its schemas with no undocumented field. Its Event and Submission schemas are the
 * protocol's JSON Schemas of the topic messages, keyword for keyword.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class OpenApiContractTest {

  static final String KEY_A = "key-a";
  static final String KEY_B = "key-b";
  static final String KEY_STREAMS = "key-streams";
  static final String KEY_RATE = "key-rate";

  static final ActorTestKit testKit = ActorTestKit.create();
  static final TestStore store = new TestStore();
  static final StatusQueries view = store.queries();
  static final RecordingPublisher recorded = new RecordingPublisher();
  static final AtomicBoolean ready = new AtomicBoolean(true);
  static final List<String> exchanges = new CopyOnWriteArrayList<>(); // "METHOD template status" seen
  static final String LINK_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  static ServerBinding binding;
  static Http http;
  static ApiContract contract;
  static Upstream upstream;
  static MediaLinks links;

  /** The recording publisher, except for sessions that make Kafka time out, refuse or never answer. */
  static final RequestPublisher publisher = new RequestPublisher() {
    @Override
    public CompletionStage<Void> publish(Request r, Context trace) {
      return switch (r.sessionKey()) {
        case "kafka-down" -> CompletableFuture.failedFuture(new TimeoutException("no acknowledgement"));
        case "kafka-broken" -> CompletableFuture.failedFuture(new IllegalStateException("refused"));
        case "kafka-silent" -> new CompletableFuture<>();
        default -> recorded.publish(r, trace);
      };
    }

    @Override
    public void close() {}
  };

  @BeforeAll
  static void bind() throws Exception {
    // 8 KiB bodies, 2 live streams per tenant, a bucket of 40 submits that refills once an hour
    StatusSettings settings = StatusSettings.from(ConfigFactory.parseMap(Map.of("sse-keep-alive", "200ms", "request-timeout", "2s",
                "media-links.key", LINK_KEY, "media-links.upstream-timeout", "1s"))
            .withFallback(ConfigFactory.load().getConfig("reelay.status")))
        .withPort(0).withLimits(8192, 2, 100, 1.0 / 3600, 40);
    links = new MediaLinks(settings.mediaLinks(), view);
    upstream = new Upstream(testKit.system());
    StatusRoutes routes = new StatusRoutes(settings,
        Map.of(KEY_A, "tenant-a", KEY_B, "tenant-b", KEY_STREAMS, "tenant-s", KEY_RATE, "tenant-r"), view, publisher, ready::get,
        new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    binding = org.apache.pekko.http.javadsl.Http.get(testKit.system()).newServerAt("127.0.0.1", 0).bind(routes.route())
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
    http = new Http("http://127.0.0.1:" + binding.localAddress().getPort());

    Instant now = Instant.now();
    store.apply(event("req-a1", "sess-a", "tenant-a", 1, RequestState.QUEUED), now);
    store.apply(event("req-a1", "sess-a", "tenant-a", 2, RequestState.RUNNING), now);
    store.apply(event("req-a2", "sess-a", "tenant-a", 1, RequestState.QUEUED), now);
    store.apply(new Event(Event.VERSION, "req-a2", "sess-a", "tenant-a", 2, Instant.parse("2030-01-01T00:00:02.5Z"),
        RequestState.COMPLETED, Phase.DONE, "Your video is ready", 1.0,
        new Event.Result("https://cdn.example.com/r.mp4", "Timeline (1 tracks): 1. Video: fox (0-5s)", new Event.Credits(90, 10, 100),
            List.of(new Event.Media("fox.mp4", "video", "https://cdn.example.com/fox.mp4", 5.0))), null), now);
    store.apply(new Event(Event.VERSION, "req-a3", "sess-a", "tenant-a", 1, Instant.parse("2030-01-01T00:00:03Z"),
        RequestState.FAILED, Phase.DONE, "Failed: out of credits", null, null,
        new Event.ErrorInfo("2001", "Not enough credits for this operation", false, "Top up, then resubmit")), now);
    store.apply(event("req-down", "kafka-down", "tenant-a", 1, RequestState.RUNNING), now);
    store.apply(event("req-broken", "kafka-broken", "tenant-a", 1, RequestState.RUNNING), now);
    store.apply(event("req-odd", "has spaces", "tenant-a", 1, RequestState.RUNNING), now);
    store.apply(event("req-b1", "sess-b", "tenant-b", 1, RequestState.RUNNING), now);
    store.apply(event("req-s1", "sess-s", "tenant-s", 1, RequestState.RUNNING), now);
    store.apply(event("req-r1", "sess-r", "tenant-r", 1, RequestState.RUNNING), now);
    for (Map.Entry<String, String> v : Map.of("req-video", "/files/video.mp4", "req-video-broken", "/broken").entrySet()) {
      store.apply(new Event(Event.VERSION, v.getKey(), "sess-v", "tenant-a", 1, Instant.parse("2030-01-01T00:00:04Z"), RequestState.COMPLETED,
          Phase.DONE, "Your video is ready", 1.0, new Event.Result(upstream.url(v.getValue()), null, null, null), null), now);
    }

    contract = new ApiContract(http.get("/openapi.yaml", null).body());
  }

  @AfterAll
  static void unbind() throws Exception {
    binding.unbind();
    upstream.close();
    testKit.shutdownTestKit();
  }

  @Test
  void theDocumentIsServedWithoutAuthAndParsesAsOpenApi31() throws Exception {
    Http.Answer a = http.get("/openapi.yaml", null);
    assertThat(a.status()).isEqualTo(200);
    assertThat(a.raw().headers().firstValue("Content-Type")).hasValue("application/yaml");
    try (InputStream in = getClass().getClassLoader().getResourceAsStream(HealthRoutes.OPENAPI_RESOURCE)) {
      assertThat(a.body()).isEqualTo(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    }
    assertThat(contract.parsed.getMessages()).isEmpty();
    assertThat(contract.parsed.getOpenAPI().getOpenapi()).isEqualTo("3.1.0");
    assertThat(contract.parsed.getOpenAPI().getComponents().getSecuritySchemes().get("bearer").getScheme()).isEqualTo("bearer");
    assertThat(contract.parsed.getOpenAPI().getWebhooks()).containsKey("requestFinished");
    get("/openapi.yaml", null, 200);
  }

  @Test
  void everyDocumentedSchemaIsAValidJsonSchema() {
    var meta = com.networknt.schema.SchemaRegistry.withDefaultDialect(com.networknt.schema.SpecificationVersion.DRAFT_2020_12)
        .getSchema(com.networknt.schema.SchemaLocation.of("https://json-schema.org/draft/2020-12/schema"));
    contract.doc.at("/components/schemas").properties().forEach(s ->
        assertThat(meta.validate(s.getValue())).as(s.getKey()).isEmpty());
  }

  @Test
  void everyOperationIsAnsweredAndEveryOtherMethodIs405() {
    // exactly these routes, no more, no fewer
    assertThat(contract.operations()).containsExactlyInAnyOrder(
        "GET /v1/requests", "POST /v1/requests", "GET /v1/requests/{requestId}", "GET /v1/requests/{requestId}/events",
        "POST /v1/requests/{requestId}/cancel", "GET /v1/sessions/{sessionKey}",
        "GET /v1/requests/{requestId}/media-link", "GET /media/{requestId}",
        "GET /healthz", "GET /readyz", "GET /metrics", "GET /openapi.yaml");
    Map<String, String> concrete = Map.of(
        "/v1/requests", "/v1/requests", "/v1/requests/{requestId}", "/v1/requests/req-a1",
        "/v1/requests/{requestId}/events", "/v1/requests/req-a2/events", "/v1/requests/{requestId}/cancel", "/v1/requests/req-a1/cancel",
        "/v1/sessions/{sessionKey}", "/v1/sessions/sess-a", "/v1/requests/{requestId}/media-link", "/v1/requests/req-a2/media-link",
        "/media/{requestId}", "/media/req-a2");
    contract.doc.path("paths").fieldNames().forEachRemaining(template -> {
      String path = concrete.getOrDefault(template, template);
      assertThat(contract.template(path)).isEqualTo(template);
      for (String m : ApiContract.METHODS) {
        String method = m.toUpperCase(Locale.ROOT);
        HttpResponse<String> r = Http.send(http.builder(path, KEY_A)
            .method(method, method.equals("POST") ? HttpRequest.BodyPublishers.ofString("{}") : HttpRequest.BodyPublishers.noBody())
            .build()).raw();
        if (contract.doc.path("paths").path(template).has(m)) {
          assertThat(r.statusCode()).as(method + " " + path).isNotIn(404, 405);
          assertThat(contract.check(method, path, r)).as(method + " " + path).isEmpty();
        } else {
          assertThat(r.statusCode()).as(method + " " + path + " (not in the document): " + r.body()).isEqualTo(405);
          assertThat(r.headers().firstValue("Allow")).as(method + " " + path).isPresent();
          assertThat(contract.validate("/components/responses/MethodNotAllowed/content/application~1json/schema", json(r))).isEmpty();
        }
      }
    });
    // an unknown path is 404 in the error shape, with a key; without one every /v1 path is 401
    HttpResponse<String> unknown = Http.send(http.builder("/v1/nothing-here", KEY_A).GET().build()).raw();
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(contract.validate("/components/responses/NotFound/content/application~1json/schema", json(unknown))).isEmpty();
    assertThat(contract.template("/v1/nothing-here")).isNull();
    assertThat(contract.template("/v1/requests/a/b")).isNull();
    // the dashboard (GET / and its files under /ui/) is a page that calls the API, not API: answered,
    // and deliberately not in the document (DashboardRoutesTest holds it to its own contract)
    for (String page : List.of("/", "/ui/app.js")) {
      assertThat(Http.send(http.builder(page, null).GET().build()).status()).as(page).isEqualTo(200);
      assertThat(contract.template(page)).as(page).isNull();
    }
  }

  @Test
  void statusListingsAndSessionsMatchTheirSchemas() {
    get("/v1/requests", KEY_A, 200);
    get("/v1/requests?session=sess-a&state=completed&limit=5", KEY_A, 200);
    get("/v1/requests?state=", KEY_A, 200);
    get("/v1/requests?state=SLEEPING", KEY_A, 400);
    get("/v1/requests?limit=0", KEY_A, 400);
    get("/v1/requests?limit=many", KEY_A, 400);
    get("/v1/requests/req-a1", KEY_A, 200);
    get("/v1/requests/req-a2", KEY_A, 200);
    get("/v1/requests/req-a3", KEY_A, 200);
    get("/v1/requests/nope", KEY_A, 404);
    get("/v1/requests/req-b1", KEY_A, 404);
    get("/v1/sessions/sess-a", KEY_A, 200);
    get("/v1/sessions/sess-a?limit=1", KEY_A, 200);
    get("/v1/sessions/sess-a?limit=x", KEY_A, 400);
    get("/v1/sessions/sess-b", KEY_A, 404);
    // the rich events really carry every part of the schema
    JsonNode done = http.get("/v1/requests/req-a2", KEY_A).json();
    assertThat(done.at("/result/credits/total").asLong()).isEqualTo(100);
    assertThat(done.at("/result/media/0/durationSeconds").asDouble()).isEqualTo(5.0);
    assertThat(http.get("/v1/requests/req-a3", KEY_A).json().at("/error/retryable").isBoolean()).isTrue();
  }

  @Test
  void unauthorizedAnswersMatchTheirSchema() {
    for (String path : List.of("/v1/requests", "/v1/requests/req-a1", "/v1/requests/req-a1/events", "/v1/sessions/sess-a",
        "/v1/requests/req-video/media-link")) {
      HttpResponse<String> none = get(path, null, 401);
      assertThat(none.headers().firstValue("WWW-Authenticate")).hasValue("Bearer realm=\"reelay\"");
      get(path, "not-a-key", 401);
    }
    post("/v1/requests", null, "{}", Map.of(), 401);
    post("/v1/requests/req-a1/cancel", "not-a-key", "", Map.of(), 401);
  }

  @Test
  void eventStreamsMatchTheirSchemaAndTheirLimit() throws Exception {
    HttpResponse<String> all = get("/v1/requests/req-a2/events", KEY_A, 200);
    assertThat(all.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/event-stream"));
    List<ApiContract.Sse> events = ApiContract.Sse.parse(all.body());
    assertThat(events).extracting(ApiContract.Sse::id).containsExactly("1", "2");
    assertThat(Json.read(events.get(1).data(), JsonNode.class).path("result").isObject()).isTrue();
    HttpResponse<String> resumed = send("GET", "/v1/requests/req-a2/events", KEY_A, null, Map.of("Last-Event-ID", "1"), 200);
    assertThat(ApiContract.Sse.parse(resumed.body())).extracting(ApiContract.Sse::id).containsExactly("2");
    send("GET", "/v1/requests/req-a2/events", KEY_A, null, Map.of("Last-Event-ID", "one"), 400);
    get("/v1/requests/nope/events", KEY_A, 404);

    // tenant-s may hold 2 live streams: the third is 429 with Retry-After
    List<InputStream> open = new ArrayList<>();
    try {
      for (int i = 0; i < 2; i++) {
        HttpResponse<InputStream> live = Http.CLIENT.send(http.builder("/v1/requests/req-s1/events", KEY_STREAMS).GET().build(),
            HttpResponse.BodyHandlers.ofInputStream());
        assertThat(live.statusCode()).isEqualTo(200);
        open.add(live.body());
        // the kept event, then heartbeats: each validates as SSE (a heartbeat has empty data)
        BufferedReader lines = new BufferedReader(new InputStreamReader(live.body(), StandardCharsets.UTF_8));
        StringBuilder head = new StringBuilder();
        for (int n = 0; n < 6; n++) {
          head.append(lines.readLine()).append('\n');
        }
        assertThat(head.toString()).startsWith("data:{").contains("\nid:1\n\ndata:\n\n");
      }
      HttpResponse<String> refused = get("/v1/requests/req-s1/events", KEY_STREAMS, 429);
      assertThat(refused.headers().firstValue("Retry-After")).hasValue("5");
      assertThat(json(refused).at("/error/code").asText()).isEqualTo("TOO_MANY_STREAMS");
    } finally {
      for (InputStream in : open) {
        in.close();
      }
    }
  }

  @Test
  void aStreamTheClientCannotAcceptIs406() {
    // tenant-b: a 406 still holds a stream slot (RequestRoutes takes it before the content negotiation)
    HttpResponse<String> r = send("GET", "/v1/requests/req-b1/events", KEY_B, null, Map.of("Accept", "application/json"), 406);
    assertThat(json(r).at("/error/code").asText()).isEqualTo("NOT_ACCEPTABLE");
  }

  @Test
  void submitAnswersMatchTheirSchemas() {
    HttpResponse<String> ok = post("/v1/requests", KEY_A, "{\"sessionKey\":\"sess-new\",\"text\":\"a fox in the snow\"}", Map.of(), 202);
    String id = json(ok).get("requestId").asText();
    get("/v1/requests/" + id, KEY_A, 200); // SUBMITTED, seq 0
    assertThat(http.get("/v1/requests/" + id, KEY_A).json().get("state").asText()).isEqualTo("SUBMITTED");

    String body = "{\"requestId\":\"idem-1\",\"sessionKey\":\"s\",\"action\":\"credits\"}";
    post("/v1/requests", KEY_A, body, Map.of("Idempotency-Key", "k-1"), 202);
    HttpResponse<String> replay = post("/v1/requests", KEY_A, body, Map.of("Idempotency-Key", "k-1"), 202);
    assertThat(replay.headers().firstValue("Idempotent-Replayed")).hasValue("true");
    post("/v1/requests", KEY_A, "{\"sessionKey\":\"s\",\"action\":\"state\"}", Map.of("Idempotency-Key", "k-1"), 422);
    post("/v1/requests", KEY_A, body, Map.of("Idempotency-Key", "k 1"), 400);
    post("/v1/requests", KEY_A, body, Map.of("Idempotency-Key", "k".repeat(256)), 400);

    post("/v1/requests", KEY_A, "not json", Map.of(), 400);
    post("/v1/requests", KEY_A, "[1,2]", Map.of(), 400);
    post("/v1/requests", KEY_A, "{\"sessionKey\":\"s\",\"text\":\"" + "t".repeat(9000) + "\"}", Map.of(), 413);

    // Kafka: no acknowledgement in time (503 + Retry-After + requestId), a refusal (500), no answer at all (503 at request-timeout)
    HttpResponse<String> down = post("/v1/requests", KEY_A, "{\"requestId\":\"r-down\",\"sessionKey\":\"kafka-down\",\"action\":\"credits\"}",
        Map.of(), 503);
    assertThat(down.headers().firstValue("Retry-After")).hasValue("5");
    assertThat(json(down).get("requestId").asText()).isEqualTo("r-down");
    post("/v1/requests", KEY_A, "{\"sessionKey\":\"kafka-broken\",\"action\":\"credits\"}", Map.of(), 500);
    // (on a client of its own: the server closes a connection it answered with a timeout)
    HttpResponse<String> silent = send(HttpClient.newHttpClient(), "POST", "/v1/requests", KEY_A,
        "{\"sessionKey\":\"kafka-silent\",\"action\":\"credits\"}", Map.of(), 503);
    assertThat(json(silent).has("requestId")).isFalse();

    // a tenant over its submit bucket (40) is 429 with Retry-After
    int status = 0;
    for (int i = 0; i < 41 && status != 429; i++) {
      status = Http.send(http.builder("/v1/requests", KEY_RATE).POST(HttpRequest.BodyPublishers.ofString("{}")).build()).status();
    }
    HttpResponse<String> limited = post("/v1/requests", KEY_RATE, "{}", Map.of(), 429);
    assertThat(Integer.parseInt(limited.headers().firstValue("Retry-After").orElseThrow())).isPositive();
    post("/v1/requests/req-r1/cancel", KEY_RATE, "", Map.of(), 429); // cancels count too, before the lookup
  }

  @Test
  void submissionsTheSchemaRefusesAreTheOnesTheServerRefuses() {
    List<String> accepted = List.of(
        "{\"sessionKey\":\"s\",\"text\":\"a fox\"}",
        "{\"v\":1,\"requestId\":\"a.b_c:d@e-f\",\"sessionKey\":\"s\",\"text\":\"make it blue\",\"action\":\"edit\",\"language\":\"en\"}",
        "{\"sessionKey\":\"s\",\"action\":\"upload\",\"upload\":{\"url\":\"https://cdn.example.com/a.mp4\",\"fileName\":\"a.mp4\"}}",
        "{\"sessionKey\":\"s\",\"upload\":{\"path\":\"clips/beach.mp4\"}}",
        "{\"sessionKey\":\"s\",\"action\":\"export\",\"output\":{\"format\":\"mp4\",\"quality\":\"high\"}}",
        "{\"sessionKey\":\"s\",\"action\":\"cancel\",\"cancels\":\"req-a1\"}",
        "{\"sessionKey\":\"s\",\"text\":\"" + "t".repeat(8000) + "\",\"tenant\":\"ignored\",\"submittedAt\":\"2030-01-01T00:00:00Z\"}");
    List<String> refused = List.of(
        "{\"text\":\"a fox\"}",
        "{\"sessionKey\":\"has spaces\",\"text\":\"a fox\"}",
        "{\"sessionKey\":\"" + "s".repeat(129) + "\",\"text\":\"a fox\"}",
        "{\"v\":2,\"sessionKey\":\"s\",\"text\":\"a fox\"}",
        "{\"v\":\"one\",\"sessionKey\":\"s\",\"text\":\"a fox\"}",
        "{\"sessionKey\":\"s\",\"action\":\"dance\",\"text\":\"x\"}",
        "{\"sessionKey\":\"s\",\"action\":\"generate\"}",
        "{\"sessionKey\":\"s\",\"text\":\"  \"}",
        "{\"sessionKey\":\"s\"}",
        "{\"sessionKey\":\"s\",\"action\":\"cancel\"}",
        "{\"sessionKey\":\"s\",\"action\":\"upload\",\"upload\":{\"fileName\":\"a.mp4\"}}",
        "{\"sessionKey\":\"s\",\"action\":\"upload\"}",
        "{\"sessionKey\":\"s\",\"text\":\"x\",\"language\":\"" + "l".repeat(36) + "\"}",
        "{\"sessionKey\":\"s\",\"action\":\"export\",\"output\":{\"quality\":\"" + "q".repeat(33) + "\"}}",
        "{\"sessionKey\":\"s\",\"action\":\"upload\",\"upload\":{\"url\":\"https://x/" + "u".repeat(2040) + "\"}}",
        "{\"sessionKey\":\"s\",\"action\":\"upload\",\"upload\":{\"path\":\"" + "p".repeat(1025) + "\"}}",
        "{\"sessionKey\":\"s\",\"text\":\"x\",\"submittedAt\":\"yesterday\"}",
        "{\"sessionKey\":\"s\",\"action\":\"cancel\",\"cancels\":\"not an id\"}");
    String submission = "/paths/~1v1~1requests/post/requestBody/content/application~1json/schema";
    for (String body : accepted) {
      assertThat(contract.schema(submission).validate(Json.read(body, JsonNode.class))).as(body).isEmpty();
      post("/v1/requests", KEY_B, body, Map.of(), 202);
    }
    for (String body : refused) {
      assertThat(contract.schema(submission).validate(Json.read(body, JsonNode.class))).as(body).isNotEmpty();
      post("/v1/requests", KEY_B, body, Map.of(), 400);
    }
  }

  @Test
  void cancelAnswersMatchTheirSchemas() {
    HttpResponse<String> ok = post("/v1/requests/req-a1/cancel", KEY_A, "", Map.of(), 202);
    assertThat(json(ok).get("cancels").asText()).isEqualTo("req-a1");
    post("/v1/requests/nope/cancel", KEY_A, "", Map.of(), 404);
    post("/v1/requests/req-odd/cancel", KEY_A, "", Map.of(), 409);
    HttpResponse<String> down = post("/v1/requests/req-down/cancel", KEY_A, "", Map.of(), 503);
    assertThat(json(down).get("cancels").asText()).isEqualTo("req-down");
    assertThat(down.headers().firstValue("Retry-After")).isPresent();
    post("/v1/requests/req-broken/cancel", KEY_A, "", Map.of(), 500);
  }

  @Test
  void mediaLinksAndTheVideosBehindThemMatchTheirSchemas() {
    HttpResponse<String> ok = get("/v1/requests/req-video/media-link", KEY_A, 200);
    get("/v1/requests/nope/media-link", KEY_A, 404);
    get("/v1/requests/req-b1/media-link", KEY_A, 404);
    get("/v1/requests/req-a1/media-link", KEY_A, 409); // running
    get("/v1/requests/req-a3/media-link", KEY_A, 409); // failed

    String url = json(ok).get("url").asText();
    HttpResponse<String> whole = get(url, null, 200);
    assertThat(whole.headers().firstValue("Content-Type")).hasValue("video/mp4");
    HttpResponse<String> part = send("GET", url, null, null, Map.of("Range", "bytes=0-99"), 206);
    assertThat(part.headers().firstValue("Content-Range")).hasValue("bytes 0-99/" + upstream.video.length);
    send("GET", url + "&download=1", null, null, Map.of("Range", "bytes=-1"), 206);
    HttpResponse<String> beyond = send("GET", url, null, null, Map.of("Range", "bytes=" + upstream.video.length + "-"), 416);
    assertThat(beyond.headers().firstValue("Content-Range")).hasValue("bytes */" + upstream.video.length);
    get(url.replace("tenant=tenant-a", "tenant=tenant-b"), null, 403);
    get(links.link("tenant-a", "req-video", Instant.now().minusSeconds(7200)).url(), null, 403);
    get(links.link("tenant-a", "nope", Instant.now()).url(), null, 404);
    get(links.link("tenant-a", "req-a1", Instant.now()).url(), null, 409);
    HttpResponse<String> broken = get(links.link("tenant-a", "req-video-broken", Instant.now()).url(), null, 502);
    assertThat(broken.body()).doesNotContain(Upstream.TOKEN);
  }

  @Test
  void operationsRoutesMatchTheirSchemas() {
    get("/healthz", null, 200);
    get("/readyz", null, 200);
    ready.set(false);
    try {
      get("/readyz", null, 503);
    } finally {
      ready.set(true);
    }
    HttpResponse<String> metrics = get("/metrics", null, 200);
    assertThat(metrics.body()).contains("reelay_status_http_requests_seconds_count");
  }

  @Test
  void webhookHeadersAndBodyMatchTheDocument() {
    String id = WebhookSecrets.webhookId("tenant-a", "req-a2", 2);
    assertThat(contract.validate(param("webhook-id"), TextNode.valueOf(id))).isEmpty();
    byte[] key = new byte[32];
    String rotation = "tenant-a=whsec_" + Base64.getEncoder().encodeToString(key) + ",tenant-a=whsec_"
        + Base64.getEncoder().encodeToString("another key of thirty-two bytes!".getBytes(StandardCharsets.UTF_8));
    byte[] body = Json.bytes(store.status("tenant-a", "req-a2").orElseThrow().latest());
    String signature = WebhookSecrets.parse(rotation).signature("tenant-a", id, 1_767_225_600L, body);
    assertThat(signature).contains(" ");
    assertThat(contract.validate(param("webhook-signature"), TextNode.valueOf(signature))).isEmpty();
    String terminal = "/webhooks/requestFinished/post/requestBody/content/application~1json/schema";
    assertThat(contract.validate(terminal, Json.read(body, JsonNode.class))).isEmpty();
    assertThat(contract.validate(terminal, Json.read(Json.bytes(store.status("tenant-a", "req-a1").orElseThrow().latest()), JsonNode.class)))
        .isNotEmpty(); // RUNNING is not terminal
  }

  @Test
  void theDocumentsEventAndSubmissionAreTheProtocolsSchemas() {
    JsonNode event = Json.read(Schemas.text(Schemas.EVENT), JsonNode.class);
    assertThat(shape(contract.doc.at("/components/schemas/Event"), contract.doc)).isEqualTo(shape(event, event));
    JsonNode request = Json.read(Schemas.text(Schemas.REQUEST), JsonNode.class);
    assertThat(shape(contract.doc.at("/components/schemas/Submission"), contract.doc).get("properties"))
        .isEqualTo(shape(request, request).get("properties"));
  }

  @Test
  void theContractNoticesAChangedFieldTypeAndAnUndocumentedField() {
    ObjectNode status = (ObjectNode) http.get("/v1/requests/req-a2", KEY_A).json();
    String schema = "/components/schemas/Status";
    assertThat(contract.validate(schema, status)).isEmpty();
    assertThat(contract.validate(schema, status.deepCopy().put("seq", "2"))).isNotEmpty();
    assertThat(contract.validate(schema, status.deepCopy().put("updatedAt", "soon"))).isNotEmpty();
    ObjectNode credits = status.deepCopy();
    ((ObjectNode) credits.at("/result/credits")).put("total", "100");
    assertThat(contract.validate(schema, credits)).isNotEmpty();
    assertThat(contract.validate(schema, status.deepCopy().put("surprise", 1))).singleElement().asString().contains("/surprise");
    ObjectNode list = Json.mapper().createObjectNode().put("count", 1).put("hasMore", false);
    ArrayNode requests = list.putArray("requests");
    requests.add(status.deepCopy().put("extra", true));
    assertThat(contract.validate("/components/schemas/RequestList", list)).singleElement().asString().contains("/requests/0/extra");
  }

  @Test
  @Order(Integer.MAX_VALUE)
  void everyDocumentedAnswerWasSeen() {
    Set<String> documented = new TreeSet<>();
    contract.doc.path("paths").properties().forEach(p -> ApiContract.METHODS.forEach(m ->
        p.getValue().path(m).path("responses").fieldNames().forEachRemaining(status -> {
          // a GET's unexpected fault and its timeout cannot be provoked from outside
          if (!(m.equals("get") && (status.equals("500") || status.equals("503") && !p.getKey().equals("/readyz")))) {
            documented.add(m.toUpperCase(Locale.ROOT) + " " + p.getKey() + " " + status);
          }
        })));
    assertThat(new TreeSet<>(exchanges)).containsAll(documented);
  }

  // ------------------------------------------------------------------ helpers

  private static String param(String name) {
    JsonNode params = contract.doc.at("/webhooks/requestFinished/post/parameters");
    for (int i = 0; i < params.size(); i++) {
      if (params.get(i).path("name").asText().equals(name)) {
        return "/webhooks/requestFinished/post/parameters/" + i + "/schema";
      }
    }
    throw new AssertionError("no webhook header " + name);
  }

  private static HttpResponse<String> get(String path, String key, int status) {
    return send("GET", path, key, null, Map.of(), status);
  }

  private static HttpResponse<String> post(String path, String key, String body, Map<String, String> headers, int status) {
    return send("POST", path, key, body, headers, status);
  }

  /** One real exchange: answered {@code status}, and agreeing with the document. */
  private static HttpResponse<String> send(String method, String path, String key, String body, Map<String, String> headers, int status) {
    return send(Http.CLIENT, method, path, key, body, headers, status);
  }

  private static HttpResponse<String> send(HttpClient client, String method, String path, String key, String body,
      Map<String, String> headers, int status) {
    HttpRequest.Builder b = http.builder(path, key)
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    if (body != null) {
      b.header("Content-Type", "application/json");
    }
    headers.forEach(b::header);
    HttpResponse<String> r;
    try {
      r = client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    } catch (Exception e) {
      throw new AssertionError(method + " " + path + " failed", e);
    }
    assertThat(r.statusCode()).as(method + " " + path + ": " + r.body()).isEqualTo(status);
    return checked(method, path, r);
  }

  private static HttpResponse<String> checked(String method, String path, HttpResponse<String> r) {
    assertThat(contract.check(method, path, r)).as(method + " " + path + " " + r.statusCode()).isEmpty();
    exchanges.add(method + " " + contract.template(path) + " " + r.statusCode());
    return r;
  }

  private static JsonNode json(HttpResponse<String> r) {
    return Json.read(r.body(), JsonNode.class);
  }

  private static final Set<String> SHAPE_KEYWORDS =
      Set.of("type", "const", "enum", "pattern", "minLength", "maxLength", "minimum", "maximum", "format", "minItems", "maxItems");

  /** What a schema accepts, without its descriptions and with its $refs resolved: to compare two documents' schemas. */
  static JsonNode shape(JsonNode schema, JsonNode root) {
    JsonNode s = schema;
    while (s.has("$ref")) {
      s = root.at(s.get("$ref").asText().substring(1));
    }
    ObjectNode out = Json.mapper().createObjectNode();
    for (String k : new TreeSet<>(SHAPE_KEYWORDS)) {
      if (s.has(k)) {
        out.set(k, s.get(k));
      }
    }
    if (s.has("required")) {
      List<String> req = new ArrayList<>();
      s.get("required").forEach(n -> req.add(n.asText()));
      req.sort(null);
      ArrayNode a = out.putArray("required");
      req.forEach(a::add);
    }
    if (s.has("properties")) {
      ObjectNode props = out.putObject("properties");
      List<String> names = new ArrayList<>();
      s.get("properties").fieldNames().forEachRemaining(names::add);
      names.sort(null);
      for (String n : names) {
        props.set(n, shape(s.get("properties").get(n), root));
      }
    }
    if (s.has("items")) {
      out.set("items", shape(s.get("items"), root));
    }
    return out;
  }
}
