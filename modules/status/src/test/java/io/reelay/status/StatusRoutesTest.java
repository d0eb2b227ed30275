package io.reelay.status;

import static io.reelay.status.Events.event;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.reelay.protocol.Action;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestState;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The HTTP API against a view fed by the test and a recording publisher (no Kafka). */
class StatusRoutesTest {

  static final String KEY_A = "key-of-tenant-a";
  static final String KEY_B = "key-of-tenant-b";

  static final ActorTestKit testKit = ActorTestKit.create();
  static final TestStore store = new TestStore();
  static final StatusQueries view = store.queries();
  static final RecordingPublisher publisher = new RecordingPublisher();
  static final List<Request> published = publisher.published;
  static final AtomicBoolean ready = new AtomicBoolean();
  static ServerBinding binding;
  static Http http;

  @BeforeAll
  static void bind() throws Exception {
    StatusSettings settings = StatusSettings.defaults().withPort(0);
    StatusRoutes routes =
        new StatusRoutes(
            settings, Map.of(KEY_A, "tenant-a", KEY_B, "tenant-b"), view, publisher, ready::get,
            new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    binding =
        org.apache.pekko.http.javadsl.Http.get(testKit.system())
            .newServerAt("127.0.0.1", 0)
            .bind(routes.route())
            .toCompletableFuture()
            .get(10, TimeUnit.SECONDS);
    http = new Http("http://127.0.0.1:" + binding.localAddress().getPort());

    store.apply(event("req-a1", "sess-a", "tenant-a", 1, RequestState.QUEUED), Instant.now());
    store.apply(event("req-a1", "sess-a", "tenant-a", 2, RequestState.RUNNING), Instant.now());
    store.apply(event("req-a2", "sess-a", "tenant-a", 1, RequestState.COMPLETED), Instant.now());
    store.apply(event("req-b1", "sess-b", "tenant-b", 1, RequestState.RUNNING), Instant.now());
  }

  @AfterAll
  static void unbind() {
    binding.unbind();
    testKit.shutdownTestKit();
  }

  @Test
  void apiNeedsAValidKey() {
    Http.Answer none = http.get("/v1/requests/req-a1", null);
    assertThat(none.status()).isEqualTo(401);
    assertThat(none.errorCode()).isEqualTo("UNAUTHORIZED");
    assertThat(none.raw().headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));

    Http.Answer wrong = http.get("/v1/requests/req-a1", "not-a-key");
    assertThat(wrong.status()).isEqualTo(401);
    assertThat(wrong.body()).doesNotContain("not-a-key");

    Http.Answer basic =
        Http.send(http.builder("/v1/requests/req-a1", null).header("Authorization", "Basic " + KEY_A).GET().build());
    assertThat(basic.status()).isEqualTo(401);
  }

  @Test
  void healthAndMetricsNeedNoKey() {
    assertThat(http.get("/healthz", null).status()).isEqualTo(200);
    ready.set(false);
    Http.Answer notReady = http.get("/readyz", null);
    assertThat(notReady.status()).isEqualTo(503);
    ready.set(true);
    assertThat(http.get("/readyz", null).status()).isEqualTo(200);
    http.get("/v1/requests/req-a1", KEY_A);
    Http.Answer metrics = http.get("/metrics", null);
    assertThat(metrics.status()).isEqualTo(200);
    assertThat(metrics.body()).contains("reelay_status_http_requests_seconds_count");
  }

  @Test
  void statusIsTheLatestEventPlusUpdatedAt() {
    Http.Answer a = http.get("/v1/requests/req-a1", KEY_A);
    assertThat(a.status()).isEqualTo(200);
    assertThat(a.raw().headers().firstValue("Content-Type")).hasValue("application/json");
    JsonNode j = a.json();
    assertThat(j.get("requestId").asText()).isEqualTo("req-a1");
    assertThat(j.get("state").asText()).isEqualTo("RUNNING");
    assertThat(j.get("seq").asLong()).isEqualTo(2);
    assertThat(j.get("updatedAt").asText()).isEqualTo("2030-01-01T00:00:02Z");
  }

  @Test
  void unknownAndOtherTenantsRequestsAreNotFound() {
    Http.Answer unknown = http.get("/v1/requests/nope", KEY_A);
    assertThat(unknown.status()).isEqualTo(404);
    assertThat(unknown.errorCode()).isEqualTo("NOT_FOUND");

    assertThat(http.get("/v1/requests/req-b1", KEY_A).status()).isEqualTo(404);
    assertThat(http.get("/v1/requests/req-b1/events", KEY_A).status()).isEqualTo(404);
    assertThat(http.post("/v1/requests/req-b1/cancel", KEY_A, "").status()).isEqualTo(404);
    assertThat(http.get("/v1/sessions/sess-b", KEY_A).status()).isEqualTo(404);
    assertThat(http.get("/v1/requests/req-b1", KEY_B).status()).isEqualTo(200);

    Http.Answer noRoute = http.get("/v1/nothing-here", KEY_A);
    assertThat(noRoute.status()).isEqualTo(404);
    assertThat(noRoute.errorCode()).isEqualTo("NOT_FOUND");
    Http.Answer wrongMethod = Http.send(http.builder("/v1/requests/req-a1", KEY_A).DELETE().build());
    assertThat(wrongMethod.status()).isEqualTo(405);
    assertThat(wrongMethod.errorCode()).isEqualTo("METHOD_NOT_ALLOWED");
  }

  @Test
  void listsOnlyTheCallersRequests() {
    JsonNode all = http.get("/v1/requests", KEY_A).json();
    // (other tests' submissions of tenant a are listed too, as SUBMITTED)
    assertThat(ids(all)).contains("req-a1", "req-a2").doesNotContain("req-b1");
    assertThat(all.get("requests")).allSatisfy(r -> assertThat(r.get("tenant").asText()).isEqualTo("tenant-a"));
    JsonNode running = http.get("/v1/requests?state=running", KEY_A).json();
    assertThat(ids(running)).containsExactly("req-a1");
    JsonNode limited = http.get("/v1/requests?session=sess-a&limit=1", KEY_A).json();
    assertThat(ids(limited)).containsExactly("req-a1");
    assertThat(limited.get("hasMore").asBoolean()).isTrue();
    JsonNode next = http.get("/v1/requests?session=sess-a&limit=1&after=" + limited.get("nextAfter").asText(), KEY_A).json();
    assertThat(ids(next)).containsExactly("req-a2");
    assertThat(next.get("hasMore").asBoolean()).isFalse();
    assertThat(next.has("nextAfter")).isFalse();
    Http.Answer forged = http.get("/v1/requests?after=bm9wZQ", KEY_A);
    assertThat(forged.status()).isEqualTo(400);
    assertThat(forged.body()).contains("nextAfter");
    JsonNode session = http.get("/v1/sessions/sess-a", KEY_A).json();
    assertThat(ids(session)).containsExactly("req-a1", "req-a2"); // by updatedAt: req-a1 had the later event

    assertThat(http.get("/v1/requests?state=SLEEPING", KEY_A).status()).isEqualTo(400);
    assertThat(http.get("/v1/requests?limit=zero", KEY_A).status()).isEqualTo(400);
  }

  @Test
  void submitValidatesAndPublishesWithTheKeysTenant() {
    Http.Answer ok = http.post("/v1/requests", KEY_A, "{\"sessionKey\":\"sess-new\",\"text\":\"a fox running through a snowy forest\",\"tenant\":\"someone-else\"}");
    assertThat(ok.status()).isEqualTo(202);
    String id = ok.json().get("requestId").asText();
    assertThat(id).isNotBlank();
    Request r = published.stream().filter(p -> p.requestId().equals(id)).findFirst().orElseThrow();
    assertThat(r.tenant()).isEqualTo("tenant-a");
    assertThat(r.sessionKey()).isEqualTo("sess-new");
    assertThat(r.v()).isEqualTo(1);
    assertThat(r.submittedAt()).isNotNull();

    Http.Answer withId = http.post("/v1/requests", KEY_A, "{\"v\":1,\"requestId\":\"my-id-1\",\"sessionKey\":\"s\",\"action\":\"credits\"}");
    assertThat(withId.status()).isEqualTo(202);
    assertThat(withId.json().get("requestId").asText()).isEqualTo("my-id-1");
  }

  @Test
  void submitAnswers400WithAClearReason() {
    assertBad("not json", "not valid JSON");
    assertBad("[1,2]", "JSON object");
    assertBad("{\"text\":\"a fox\"}", "sessionKey is required");
    assertBad("{\"v\":2,\"sessionKey\":\"s\",\"text\":\"a fox\"}", "v=2");
    assertBad("{\"sessionKey\":\"s\",\"text\":\"a fox\",\"action\":\"dance\"}", "unknown action 'dance'");
    assertBad("{\"sessionKey\":\"s\",\"action\":\"generate\"}", "text is required");
    assertBad("{\"sessionKey\":\"s\",\"text\":\"x\",\"v\":\"one\"}", "'v'");
    assertBad("{\"sessionKey\":\"has spaces\",\"text\":\"x\"}", "sessionKey must be");
  }

  @Test
  void cancelPublishesACancelRequestForTheSameSession() {
    Http.Answer a = http.post("/v1/requests/req-a1/cancel", KEY_A, "");
    assertThat(a.status()).isEqualTo(202);
    assertThat(a.json().get("cancels").asText()).isEqualTo("req-a1");
    String id = a.json().get("requestId").asText();
    Request r = published.stream().filter(p -> p.requestId().equals(id)).findFirst().orElseThrow();
    assertThat(r.action()).isEqualTo(Action.CANCEL);
    assertThat(r.cancels()).isEqualTo("req-a1");
    assertThat(r.sessionKey()).isEqualTo("sess-a");
    assertThat(r.tenant()).isEqualTo("tenant-a");
    assertThat(http.post("/v1/requests/unknown/cancel", KEY_A, "").status()).isEqualTo(404);
  }

  @Test
  void eventsOfAFinishedRequestReplayAndEnd() throws Exception {
    HttpResponse<String> r =
        Http.CLIENT.send(http.builder("/v1/requests/req-a2/events", KEY_A).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/event-stream"));
    assertThat(r.body()).contains("id:1").contains("\"state\":\"COMPLETED\"");

    HttpRequest bad = http.builder("/v1/requests/req-a2/events", KEY_A).header("Last-Event-ID", "x").GET().build();
    assertThat(Http.send(bad).status()).isEqualTo(400);
  }

  @Test
  void liveStreamsSendHeartbeatsWhileIdle() throws Exception {
    StatusSettings fast =
        StatusSettings.from(
            com.typesafe.config.ConfigFactory.parseString("sse-keep-alive = 200ms")
                .withFallback(com.typesafe.config.ConfigFactory.load().getConfig("reelay.status")));
    StatusRoutes routes =
        new StatusRoutes(fast, Map.of(KEY_A, "tenant-a"), view, null, ready::get, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    ServerBinding b =
        org.apache.pekko.http.javadsl.Http.get(testKit.system()).newServerAt("127.0.0.1", 0).bind(routes.route())
            .toCompletableFuture().get(10, TimeUnit.SECONDS);
    try {
      List<String> lines = new CopyOnWriteArrayList<>();
      HttpResponse<java.util.stream.Stream<String>> r =
          Http.CLIENT.send(
              new Http("http://127.0.0.1:" + b.localAddress().getPort()).builder("/v1/requests/req-a1/events", KEY_A).GET().build(),
              HttpResponse.BodyHandlers.ofLines());
      Thread reader = new Thread(() -> r.body().forEach(lines::add));
      reader.setDaemon(true);
      reader.start();
      org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5)).until(() -> lines.size() > 10);
      r.body().close();
      // two events (id:1, id:2), then only heartbeats
      assertThat(lines.stream().filter(l -> l.startsWith("id:")).count()).isEqualTo(2);
      assertThat(lines.subList(lines.indexOf("id:2") + 2, lines.size())).allMatch(l -> l.isEmpty() || l.startsWith("data:") || l.startsWith(":"));
    } finally {
      b.unbind();
    }
  }

  private void assertBad(String body, String reason) {
    Http.Answer a = http.post("/v1/requests", KEY_A, body);
    assertThat(a.status()).as(body).isEqualTo(400);
    assertThat(a.errorCode()).isEqualTo("BAD_REQUEST");
    assertThat(a.errorMessage()).as(body).contains(reason);
  }

  private static List<String> ids(JsonNode listing) {
    return java.util.stream.StreamSupport.stream(listing.get("requests").spliterator(), false)
        .map(n -> n.get("requestId").asText())
        .collect(Collectors.toList());
  }
}
