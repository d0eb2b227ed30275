package io.reelay.nemo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.nemo.Answers.AnonymousToken;
import io.reelay.nemo.Answers.BackendSession;
import io.reelay.nemo.FailurePolicy.Remedy;
import io.reelay.protocol.Json;
import io.reelay.sim.NemoSim;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Each row of {@link FailurePolicy}, carried out against the simulator's fault injection: the
 * simulator's call counters show whether (and how often) the client retried.
 */
class FaultsAgainstSimTest {

  private static final int MAX_ATTEMPTS = 3;
  private static SimFixture fixture;
  private static ActorTestKit kit;
  private static NemoSim sim;
  private static NemoClient client;
  private static final List<NemoClient.RetryNotice> notices = new CopyOnWriteArrayList<>();
  private static final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    fixture = SimFixture.start("faults-test", Map.of(
        "nemo-sim.max-upload-bytes", "2k",
        "reelay.nemo.retry.initial", "20ms",
        "reelay.nemo.retry.max", "100ms",
        "reelay.nemo.retry.max-attempts", MAX_ATTEMPTS,
        "reelay.nemo.retry.rate-limit-wait", "100ms",
        "reelay.nemo.retry.refusal-budget", "1s"));
    kit = fixture.kit();
    sim = fixture.sim();
    client = fixture.client().withRetryListener(notices::add);
  }

  @AfterEach
  void healthyAgain() throws Exception {
    faults("{}");
    admin("/_sim/reset", "");
    notices.clear();
  }

  @AfterAll
  static void stop() throws Exception {
    fixture.close();
  }

  @Test
  void rateLimitedCallsAreWaitedOutForAsLongAsTheRefusalBudgetAllows() throws Exception {
    AnonymousToken t = token();
    faults("{\"rate-limit-429\":1.0}");
    assertThatThrownBy(() -> await(client.credits(t.token())))
        .cause().isInstanceOfSatisfying(NemoException.Http.class, h -> assertThat(h.status()).isEqualTo(429));
    // waits of 10-100 ms (no Retry-After: backoff with jitter) within a budget of 1 s: many tries
    assertThat(calls("credits")).isGreaterThan(5).isEqualTo(1 + notices.size());
    assertThat(notices).extracting(NemoClient.RetryNotice::code).containsOnly("429");
    assertThat(notices).extracting(NemoClient.RetryNotice::refused).containsOnly("rate limited");
  }

  @Test
  void aRateLimitedCallGoesThroughOnceTheBackendTakesItAgain() throws Exception {
    AnonymousToken t = token();
    faults("{\"seed\":3,\"rate-limit-429\":0.6}");
    for (int i = 0; i < 5; i++) {
      assertThat(await(client.credits(t.token())).available()).isEqualTo(100);
    }
    assertThat(notices).isNotEmpty();
  }

  @Test
  void aRetryAfterGivenAsAnHttpDateIsWaitedOutAsStated() throws Exception {
    // a backend that states its 429 waits as dates, 2 s ahead (1,000 s x time-scale 0.002): every wait is
    // the stated one cut to rate-limit-wait (100 ms), never the 10-20 ms of the client's own first backoffs
    try (SimFixture dates = SimFixture.start("retry-after-dates", Map.of(
        "nemo-sim.retry-after-form", "http-date",
        "nemo-sim.timing.retry-after", "1000s",
        "reelay.nemo.retry.initial", "20ms",
        "reelay.nemo.retry.max", "100ms",
        "reelay.nemo.retry.rate-limit-wait", "100ms",
        "reelay.nemo.retry.refusal-budget", "1s"))) {
      List<NemoClient.RetryNotice> waits = new CopyOnWriteArrayList<>();
      NemoClient c = dates.client().withRetryListener(waits::add);
      AnonymousToken t = await(c.anonymousToken("client-" + UUID.randomUUID()));
      faults(dates.sim(), "{\"seed\":3,\"rate-limit-429\":0.6}");
      for (int i = 0; i < 5; i++) {
        assertThat(await(c.credits(t.token())).available()).isEqualTo(100);
      }
      assertThat(waits).isNotEmpty().extracting(NemoClient.RetryNotice::code).containsOnly("429");
      assertThat(waits).extracting(NemoClient.RetryNotice::delay).containsOnly(java.time.Duration.ofMillis(100));
    }
  }

  @Test
  void serverErrorsAreRetriedWithBackoffAFiniteNumberOfTimes() throws Exception {
    AnonymousToken t = token();
    BackendSession s = await(client.createSession(t.token(), "en"));
    faults("{\"server-error-5xx\":1.0}");
    assertThatThrownBy(() -> await(client.state(t.token(), s.sessionId())))
        .cause().isInstanceOf(NemoException.class);
    // 500 and 502 back off max-attempts times; a 503 among them is a refusal, waited out on its own count
    assertThat(notices.stream().filter(n -> n.refused() == null)).hasSize(MAX_ATTEMPTS);
    assertThat(calls("state")).isEqualTo(1 + notices.size());
  }

  @Test
  void aTransientServerErrorIsAbsorbed() throws Exception {
    AnonymousToken t = token();
    faults("{\"seed\":7,\"server-error-5xx\":0.3}");
    for (int i = 0; i < 10; i++) {
      assertThat(await(client.credits(t.token())).available()).isEqualTo(100);
    }
    assertThat(notices).isNotEmpty(); // some calls failed and were retried, none reached the caller
  }

  @Test
  void connectionResetsAreRetriedWithBackoff() throws Exception {
    AnonymousToken t = token();
    faults("{\"connection-reset\":1.0}");
    assertThatThrownBy(() -> await(client.credits(t.token())))
        .cause().satisfies(e -> assertThat(FailurePolicy.remedy(e)).isEqualTo(Remedy.BACKOFF));
    assertThat(calls("credits")).isEqualTo(1 + MAX_ATTEMPTS);
  }

  @Test
  void requestTimeoutsAreRetriedWithBackoffAFiniteNumberOfTimes() throws Exception {
    AnonymousToken t = token();
    faults("{\"request-timeout-408\":1.0}");
    assertThatThrownBy(() -> await(client.credits(t.token())))
        .cause().isInstanceOfSatisfying(NemoException.Http.class, h -> assertThat(h.status()).isEqualTo(408));
    assertThat(calls("credits")).isEqualTo(1 + MAX_ATTEMPTS);
    assertThat(notices).extracting(NemoClient.RetryNotice::code).containsOnly("408");
  }

  @Test
  void aBackendThatDoesNotAnswerWithinTheRequestTimeoutIsRetriedWithBackoff() throws Exception {
    // every answer held back 500 ms (slow-response: 100 s x time-scale 0.005) by a backend the client gives 200 ms
    try (SimFixture slow = SimFixture.start("client-timeouts", Map.of(
        "nemo-sim.timing.slow-response", "100s",
        "reelay.nemo.request-timeout", "200ms",
        "reelay.nemo.retry.initial", "20ms",
        "reelay.nemo.retry.max", "100ms",
        "reelay.nemo.retry.max-attempts", MAX_ATTEMPTS))) {
      List<NemoClient.RetryNotice> retries = new CopyOnWriteArrayList<>();
      NemoClient c = slow.client().withRetryListener(retries::add);
      AnonymousToken t = await(c.anonymousToken("client-" + UUID.randomUUID()));
      faults(slow.sim(), "{\"slow-response\":1.0}");
      assertThatThrownBy(() -> await(c.credits(t.token())))
          .cause().isInstanceOf(NemoException.Transport.class).hasMessageContaining("no answer within 200 ms");
      assertThat(retries).hasSize(MAX_ATTEMPTS).extracting(NemoClient.RetryNotice::code).containsOnly("TRANSPORT");
      JsonNode stats = Json.mapper().readTree(http.send(HttpRequest.newBuilder(URI.create(slow.sim().baseUrl() + "/_sim/stats")).build(),
          HttpResponse.BodyHandlers.ofString()).body());
      assertThat(stats.path("calls").path("credits").asInt()).as("the first try and %s retries", MAX_ATTEMPTS).isEqualTo(1 + MAX_ATTEMPTS);
    }
  }

  @Test
  void aRevokedTokenIs1001NotRetriedByTheClientAndTheSameClientIdGetsANewOne() throws Exception {
    String clientId = "client-" + UUID.randomUUID();
    AnonymousToken t = await(client.anonymousToken(clientId));
    faults("{\"token-revoked\":1.0}");
    assertThatThrownBy(() -> await(client.credits(t.token())))
        .cause().satisfies(e -> assertThat(FailurePolicy.remedy(e)).isEqualTo(Remedy.RENEW_TOKEN));
    assertThat(calls("credits")).isEqualTo(1);
    faults("{}");
    AnonymousToken renewed = await(client.anonymousToken(clientId));
    assertThat(renewed.token()).isNotEqualTo(t.token());
    assertThat(renewed.userId()).isEqualTo(t.userId());
    assertThat(await(client.credits(renewed.token())).total()).isEqualTo(100);
  }

  @Test
  void aLostSessionIs1002AndNotRetried() throws Exception {
    AnonymousToken t = token();
    BackendSession s = await(client.createSession(t.token(), "en"));
    faults("{\"session-lost\":1.0}");
    assertThatThrownBy(() -> await(client.state(t.token(), s.sessionId())))
        .cause().satisfies(e -> assertThat(FailurePolicy.remedy(e)).isEqualTo(Remedy.NEW_SESSION));
    assertThat(calls("state")).isEqualTo(1);
  }

  @Test
  void runningOutOfCreditsIs2001BeforeAnyStreamAndNeverRetried() throws Exception {
    AnonymousToken t = token();
    BackendSession s = await(client.createSession(t.token(), "en"));
    await(client.runSse(t.token(), s.sessionId(), "generate a 5-second clip of a lighthouse").runWith(Sink.ignore(), kit.system()));
    assertThatThrownBy(() -> await(client.runSse(t.token(), s.sessionId(), "generate another clip of waves")
            .runWith(Sink.ignore(), kit.system())))
        .cause().isInstanceOfSatisfying(NemoException.Backend.class, b -> assertThat(b.backendCode()).isEqualTo(2001));
    assertThat(calls("run_sse")).isEqualTo(2);
    assertThat(stats().path("generations").asInt()).isEqualTo(1);
  }

  @Test
  void anUnsupportedUploadTypeIs4001AndNeverRetried() throws Exception {
    AnonymousToken t = token();
    BackendSession s = await(client.createSession(t.token(), "en"));
    assertThatThrownBy(() -> await(client.uploadUrls(t.token(), s.sessionId(), List.of("https://example.com/tool.exe"))))
        .cause().isInstanceOfSatisfying(NemoException.Backend.class, b -> assertThat(b.backendCode()).isEqualTo(4001));
    assertThat(calls("upload")).isEqualTo(1);
  }

  @Test
  void aFileOverTheSizeLimitIs4002AndNeverRetried(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    AnonymousToken t = token();
    BackendSession s = await(client.createSession(t.token(), "en"));
    java.nio.file.Path big = java.nio.file.Files.write(dir.resolve("big.mp4"), new byte[8192]);
    assertThatThrownBy(() -> await(client.uploadFiles(t.token(), s.sessionId(), List.of(
            NemoClient.LocalFile.open(big, org.apache.pekko.http.javadsl.model.ContentTypes.parse("video/mp4"))))))
        .cause().isInstanceOfSatisfying(NemoException.Backend.class, b -> assertThat(b.backendCode()).isEqualTo(4002));
    assertThat(calls("upload")).isEqualTo(1);
  }

  @Test
  void exportWithoutAttributionHeadersIs402AndNeverRetried() throws Exception {
    NemoClient anonymousSkill = new NemoClient(kit.system(), new NemoSettings(
        sim.baseUrl(), java.util.Optional.empty(), "", "", "", java.time.Duration.ofSeconds(10),
        java.time.Duration.ofMinutes(1), java.time.Duration.ofMinutes(2), 1 << 20, 16, 32, 16, 32,
        client.settings().retry(), 0, 1));
    AnonymousToken t = token();
    BackendSession s = await(client.createSession(t.token(), "en"));
    assertThatThrownBy(() -> await(anonymousSkill.submitRender(t.token(), "render_" + UUID.randomUUID(), s.sessionId(),
            io.reelay.protocol.Json.mapper().createObjectNode(), "mp4", "high")))
        .cause().isInstanceOfSatisfying(NemoException.Http.class, h -> {
          assertThat(h.status()).isEqualTo(402);
          assertThat(FailurePolicy.remedy(h)).isEqualTo(Remedy.GIVE_UP);
        });
    assertThat(calls("render-submit")).isEqualTo(1);
  }

  @Test
  void aStreamCutMidWayFailsTheSourceAndIsNeverResent() throws Exception {
    AnonymousToken t = token();
    BackendSession s = await(client.createSession(t.token(), "en"));
    faults("{\"stream-cut\":1.0}");
    assertThatThrownBy(() -> await(client.runSse(t.token(), s.sessionId(), "generate a clip of a harbour at night")
            .runWith(Sink.ignore(), kit.system())))
        .cause().satisfies(e -> assertThat(FailurePolicy.remedy(e)).isEqualTo(Remedy.GIVE_UP));
    assertThat(calls("run_sse")).isEqualTo(1);
  }

  // ------------------------------------------------------------------ helpers

  private static AnonymousToken token() throws Exception {
    return await(client.anonymousToken("client-" + UUID.randomUUID()));
  }

  private static <T> T await(CompletionStage<T> s) throws Exception {
    return s.toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  private static void faults(String json) throws Exception {
    faults(sim, json);
  }

  private static void faults(NemoSim target, String json) throws Exception {
    HttpResponse<String> r = admin(target, "/_sim/faults", json);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  private static HttpResponse<String> admin(String path, String json) throws Exception {
    return admin(sim, path, json);
  }

  private static HttpResponse<String> admin(NemoSim target, String path, String json) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(target.baseUrl() + path))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode stats() throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(sim.baseUrl() + "/_sim/stats")).build(),
        HttpResponse.BodyHandlers.ofString());
    return Json.mapper().readTree(r.body());
  }

  private static int calls(String endpoint) throws Exception {
    return stats().path("calls").path(endpoint).asInt();
  }
}
