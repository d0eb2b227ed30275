package io.reelay.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * One test per fault kind of {@code nemo-sim.faults}, each switched on at run time through
 * {@code POST /_sim/faults} (rate 1.0) and observed with a plain HTTP client, plus seed reproducibility;
 * and {@code chargedTwice} (messages the backend charged for again) against {@code repeatedMessages}.
 */
class FaultKindsTest {

  private static final String PROMPT = "generate a 2-second clip of a lighthouse";
  private static final Duration LOST_READ_AT_MOST = Duration.ofSeconds(30);
  private static SimFixture f;
  private static SimHttp http;

  @BeforeAll
  static void start() throws Exception {
    f = SimFixture.start("fault-kinds", Map.of("credits-per-token", 10_000));
    http = f.http;
  }

  @AfterEach
  void healthy() throws Exception {
    f.faults(Map.of());
    http.post("/_sim/reset", null, null);
  }

  @AfterAll
  static void stop() throws Exception {
    f.close();
  }

  private static long injected(String fault) throws Exception {
    return f.stats().path("faultsInjected").path(fault).asLong();
  }

  private record Setup(String token, String sid) {}

  private static Setup setup() throws Exception {
    String token = f.token();
    return new Setup(token, http.session(token));
  }

  @Test
  void rateLimit429AnswersTheEnvelopeWithRetryAfter() throws Exception {
    f.faults(Map.of("rate-limit-429", 1.0));
    SimHttp.Reply r = http.post("/api/auth/anonymous-token", null, null, Map.of("X-Client-Id", SimFixture.client()));
    assertThat(r.status()).isEqualTo(429);
    assertThat(r.code()).isEqualTo(429);
    assertThat(r.json().has("message")).isTrue();
    assertThat(r.raw().headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/json"));
    assertThat(r.raw().headers().firstValue("Retry-After")).hasValueSatisfying(v -> assertThat(Long.parseLong(v)).isPositive());
    assertThat(injected("rate-limit-429")).isEqualTo(1);
  }

  @Test
  void serverError5xxAnswers500502Or503() throws Exception {
    Setup s = setup();
    f.faults(Map.of("server-error-5xx", 1.0));
    java.util.Set<Integer> seen = new java.util.TreeSet<>();
    for (int i = 0; i < 20; i++) {
      SimHttp.Reply r = http.credits(s.token());
      seen.add(r.status());
      if (r.status() != 502) assertThat(r.code()).isEqualTo(r.status());
      else assertThat(r.raw().body()).isEqualTo("502 Bad Gateway");
    }
    assertThat(seen).isSubsetOf(500, 502, 503).hasSizeGreaterThan(1);
    assertThat(injected("server-error-5xx")).isEqualTo(20);
  }

  @Test
  void connectionResetDropsTheConnectionMidAnswer() throws Exception {
    Setup s = setup();
    f.faults(Map.of("connection-reset", 1.0));
    assertThatThrownBy(() -> http.credits(s.token())).isInstanceOf(java.io.IOException.class);
    // the JDK client retries an idempotent GET once on a dropped connection
    assertThat(injected("connection-reset")).isBetween(1L, 2L);
  }

  @Test
  void slowResponseDelaysTheAnswer() throws Exception {
    Setup s = setup();
    f.faults(Map.of("slow-response", 1.0));
    f.delays.clear();
    assertThat(http.credits(s.token()).code()).isZero();
    // timing.slow-response 20 s x time-scale 0.002 = 40 ms (the fixture's latency is below the scheduler's tick: none)
    assertThat(f.delays).containsExactly(Duration.ofMillis(40));
    assertThat(injected("slow-response")).isEqualTo(1);
  }

  @Test
  void streamCutDropsTheStreamButTheWorkFinishes() throws Exception {
    Setup s = setup();
    f.faults(Map.of("stream-cut", 1.0));
    List<JsonNode> seen = new ArrayList<>();
    assertThatThrownBy(() -> http.runSse(s.token(), s.sid(), PROMPT, seen::add)).isInstanceOf(java.io.IOException.class);
    assertThat(seen).isNotEmpty();
    Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(f.state(s.token(), s.sid()).path("draft").path("t")).hasSize(3));
    assertThat(http.credits(s.token()).data().path("frozen").asInt()).isZero();
    assertThat(injected("stream-cut")).isEqualTo(1);
  }

  @Test
  void tokenRevokedIs1001NowAndLater() throws Exception {
    Setup s = setup();
    f.faults(Map.of("token-revoked", 1.0));
    SimHttp.Reply r = http.credits(s.token());
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.code()).isEqualTo(1001);
    assertThat(r.json().path("message").asText()).contains("revoked");
    f.faults(Map.of());
    assertThat(http.credits(s.token()).code()).isEqualTo(1001);
    assertThat(injected("token-revoked")).isEqualTo(1);
  }

  @Test
  void sessionLostIs1002NowAndLater() throws Exception {
    Setup s = setup();
    f.faults(Map.of("session-lost", 1.0));
    assertThat(http.get("/api/state/nemo_agent/me/" + s.sid() + "/latest", s.token()).code()).isEqualTo(1002);
    f.faults(Map.of());
    assertThat(http.runSse(s.token(), s.sid(), PROMPT, e -> { }).errorBody()).contains("\"code\":1002");
    assertThat(injected("session-lost")).isEqualTo(1);
  }

  @Test
  void silentEditEndsWithToolCallsOnlyButChangesTheState() throws Exception {
    Setup s = setup();
    http.runSse(s.token(), s.sid(), PROMPT, e -> { });
    f.faults(Map.of("silent-edit", 1.0));
    SimHttp.SseReply edit = http.runSse(s.token(), s.sid(), "change the title to \"Night Light\"", e -> { });
    assertThat(edit.functionCalls()).containsExactly("edit_multitrack");
    assertThat(edit.texts()).isEmpty();
    assertThat(f.state(s.token(), s.sid()).path("draft").path("t").get(2).path("sg").get(0).path("m").path("title").asText())
        .isEqualTo("Night Light");
    assertThat(f.stats().path("silentEdits").asLong()).isEqualTo(1);
  }

  @Test
  void renderFailedEndsTheJobFailedWithAnError() throws Exception {
    Setup s = setup();
    f.faults(Map.of("render-failed", 1.0));
    String id = "render_" + UUID.randomUUID();
    Map<String, Object> draft = Map.of("t", List.of(Map.of("tt", 0, "sg", List.of(Map.of("d", 1000)))));
    http.post("/api/render/proxy/lambda", s.token(), Map.of("id", id, "sessionId", s.sid(), "draft", draft));
    Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
      JsonNode job = http.get("/api/render/proxy/lambda/" + id, s.token()).data();
      assertThat(job.path("status").asText()).isEqualTo("failed");
      assertThat(job.path("error").asText()).isNotBlank();
      assertThat(job.has("outputUrl")).isFalse();
    });
  }

  @Test
  void streamErrorSendsAnErrorEventClosesAndReleasesTheCredits() throws Exception {
    Setup s = setup();
    f.faults(Map.of("stream-error", 1.0));
    SimHttp.SseReply r = http.runSse(s.token(), s.sid(), PROMPT, e -> { });
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.errors()).singleElement().satisfies(e -> assertThat(e.path("error").asText()).isNotBlank());
    assertThat(r.events().get(r.events().size() - 1).has("error")).as("the error is the last event").isTrue();
    JsonNode credits = http.credits(s.token()).data();
    assertThat(credits.path("available").asInt()).isEqualTo(10_000);
    assertThat(credits.path("frozen").asInt()).isZero();
  }

  @Test
  void streamHangNeverClosesTheStream() throws Exception {
    Setup s = setup();
    f.faults(Map.of("stream-hang", 1.0));
    SimHttp.SseReply r = http.runSse(s.token(), s.sid(), "[sim:text] hello", Map.of(), Duration.ofMillis(800), e -> { });
    assertThat(r.stillOpen()).isTrue();
    assertThat(r.texts()).hasSize(1);
    assertThat(r.heartbeats()).isGreaterThan(5);
    assertThat(f.stats().path("hangingStreams").asLong()).isEqualTo(1);
    // the client went away: the simulator notices and stops heartbeating
    Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(f.stats().path("activeStreams").asLong()).isZero());
  }

  @Test
  void tempIssueAddsATrailingTemporaryIssueText() throws Exception {
    Setup s = setup();
    f.faults(Map.of("temp-issue", 1.0));
    SimHttp.SseReply r = http.runSse(s.token(), s.sid(), PROMPT, e -> { });
    assertThat(r.texts()).hasSize(3);
    assertThat(r.texts().get(1)).contains("Timeline (3 tracks)");
    assertThat(r.texts().get(2)).startsWith("I encountered a temporary issue");
  }

  @Test
  void askQuestionAnswersWithAnAskQuestionToolCallOnly() throws Exception {
    Setup s = setup();
    f.faults(Map.of("ask-question", 1.0));
    SimHttp.SseReply r = http.runSse(s.token(), s.sid(), PROMPT, e -> { });
    assertThat(r.functionCalls()).containsExactly("ask_question");
    assertThat(r.texts()).isEmpty();
    assertThat(f.state(s.token(), s.sid()).path("draft").isEmpty()).isTrue();
  }

  @Test
  void crashedTurnLeaksTheFrozenCredits() throws Exception {
    Setup s = setup();
    f.faults(Map.of("crashed-turn", 1.0));
    SimHttp.SseReply r = http.runSse(s.token(), s.sid(), PROMPT, e -> { });
    assertThat(r.errors()).hasSize(1);
    JsonNode credits = http.credits(s.token()).data();
    assertThat(credits.path("frozen").asInt()).isEqualTo(100);
    assertThat(credits.path("available").asInt()).isEqualTo(9_900);
    assertThat(credits.path("total").asInt()).isEqualTo(10_000);
    assertThat(f.stats().path("creditsLeaked").asLong()).isEqualTo(100);
  }

  @Test
  void theSameSeedReproducesTheSameFaults() throws Exception {
    List<Integer> first = statuses(Map.of("seed", 11, "rate-limit-429", 0.3, "server-error-5xx", 0.2));
    List<Integer> second = statuses(Map.of("seed", 11, "rate-limit-429", 0.3, "server-error-5xx", 0.2));
    List<Integer> other = statuses(Map.of("seed", 12, "rate-limit-429", 0.3, "server-error-5xx", 0.2));
    assertThat(first).isEqualTo(second).contains(200, 429);
    assertThat(other).isNotEqualTo(first);
  }

  private static List<Integer> statuses(Map<String, Object> mix) throws Exception {
    f.faults(mix);
    List<Integer> out = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      out.add(http.post("/api/auth/anonymous-token", null, null, Map.of("X-Client-Id", "seeded-" + i)).status());
    }
    return out;
  }

  // ---- lost-answer: the backend runs the turn, the client gets a 502 or a stream that drops before any event

  /** How a lost answer reached the client. */
  private enum Lost { BAD_GATEWAY, DROPPED_STREAM }

  /** Sends {@code text} under fault lost-answer and checks what the client saw: a 502, or a stream that drops before any event. */
  private static Lost sendAndLose(Setup s, String text) throws Exception {
    HttpResponse<InputStream> resp = http.openSse(s.token(), s.sid(), text, Map.of(), LOST_READ_AT_MOST);
    if (resp.statusCode() == 502) {
      SimHttp.SseReply r = http.readSse(resp, LOST_READ_AT_MOST, e -> { });
      assertThat(r.errorBody()).isEqualTo("502 Bad Gateway");
      return Lost.BAD_GATEWAY;
    }
    assertThat(resp.statusCode()).as("a lost answer is a 502 or a started stream").isEqualTo(200);
    assertThat(resp.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/event-stream"));
    List<JsonNode> seen = new ArrayList<>();
    assertThatThrownBy(() -> http.readSse(resp, LOST_READ_AT_MOST, seen::add)).isInstanceOf(IOException.class);
    assertThat(seen).as("events before the drop").isEmpty();
    return Lost.DROPPED_STREAM;
  }

  /** The turn of one generation ran in {@code s} although its answer was lost: credits taken, then spent; the draft has the video. */
  private static void awaitTheGenerationRan(Setup s, int generationsSoFar) throws Exception {
    assertThat(http.credits(s.token()).data().path("available").asInt()).as("frozen or spent at once").isEqualTo(10_000 - 100);
    Awaitility.await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
      JsonNode credits = http.credits(s.token()).data();
      assertThat(credits.path("frozen").asInt()).isZero();
      assertThat(credits.path("total").asInt()).as("spent, not released").isEqualTo(10_000 - 100);
      assertThat(f.state(s.token(), s.sid()).path("draft").path("t")).hasSize(3);
    });
    assertThat(f.stats().path("creditsSpent").asLong()).isEqualTo(100L * generationsSoFar);
  }

  @Test
  void aLostAnswerIsA502OrADroppedStreamAndTheTurnRunsEitherWay() throws Exception {
    f.faults(Map.of("seed", 7, "lost-answer", 1.0));
    List<Lost> outcomes = new ArrayList<>();
    // the dice pick the half: a few messages (one session each) show both
    while (outcomes.size() < 12 && !(outcomes.contains(Lost.BAD_GATEWAY) && outcomes.contains(Lost.DROPPED_STREAM))) {
      Setup s = setup();
      outcomes.add(sendAndLose(s, PROMPT));
      awaitTheGenerationRan(s, outcomes.size());
    }
    assertThat(outcomes).contains(Lost.BAD_GATEWAY, Lost.DROPPED_STREAM);
    JsonNode stats = f.stats();
    assertThat(stats.path("faultsInjected").path("lost-answer").asLong()).isEqualTo(outcomes.size());
    assertThat(stats.path("messages").asLong()).isEqualTo(outcomes.size());
    assertThat(stats.path("generations").asLong()).isEqualTo(outcomes.size());
    assertThat(stats.path("chargedTwice").asLong()).isZero();
    Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(f.stats().path("activeStreams").asLong()).isZero());
  }

  @Test
  void whichHalfALostAnswerFallsInIsFixedByTheSeed() throws Exception {
    List<Lost> first = lostAnswers(21);
    List<Lost> second = lostAnswers(21);
    assertThat(first).isEqualTo(second).contains(Lost.BAD_GATEWAY, Lost.DROPPED_STREAM);
  }

  private static List<Lost> lostAnswers(long seed) throws Exception {
    Setup s = setup();
    f.faults(Map.of("seed", seed, "lost-answer", 1.0));
    List<Lost> out = new ArrayList<>();
    for (int i = 0; i < 8; i++) out.add(sendAndLose(s, "[sim:text] hello " + i));
    return out;
  }

  @Test
  void sendingALostMessageAgainChargesItTwice() throws Exception {
    Setup s = setup();
    f.faults(Map.of("lost-answer", 1.0));
    sendAndLose(s, PROMPT);
    awaitTheGenerationRan(s, 1);

    f.faults(Map.of());
    SimHttp.SseReply again = http.runSse(s.token(), s.sid(), PROMPT, e -> { });
    assertThat(again.functionCalls()).contains("generate_video_with_seedance");
    JsonNode stats = f.stats();
    assertThat(stats.path("messages").asLong()).isEqualTo(2);
    assertThat(stats.path("repeatedMessages").asLong()).isEqualTo(1);
    assertThat(stats.path("chargedTwice").asLong()).isEqualTo(1);
    assertThat(http.credits(s.token()).data().path("total").asInt()).isEqualTo(10_000 - 200);

    assertThat(http.post("/_sim/reset", null, null).status()).isEqualTo(200);
    assertThat(f.stats().path("chargedTwice").asLong()).isZero();
  }

  @Test
  void aMessageRefusedByA429Or5xxAndSentAgainIsNotChargedTwice() throws Exception {
    for (String fault : List.of("rate-limit-429", "server-error-5xx")) {
      Setup s = setup();
      f.faults(Map.of(fault, 1.0));
      SimHttp.SseReply refused = http.runSse(s.token(), s.sid(), PROMPT, e -> { });
      assertThat(refused.status()).as(fault).isIn(429, 500, 502, 503);

      f.faults(Map.of());
      assertThat(http.credits(s.token()).data().path("available").asInt()).as("nothing frozen").isEqualTo(10_000);
      assertThat(http.runSse(s.token(), s.sid(), PROMPT, e -> { }).functionCalls()).contains("generate_video_with_seedance");
    }
    JsonNode stats = f.stats();
    assertThat(stats.path("faultsInjected").path("rate-limit-429").asLong()).isEqualTo(1);
    assertThat(stats.path("faultsInjected").path("server-error-5xx").asLong()).isEqualTo(1);
    // refused before the agent saw them: no message, so the sends after them are no repeats either
    assertThat(stats.path("messages").asLong()).isEqualTo(2);
    assertThat(stats.path("repeatedMessages").asLong()).isZero();
    assertThat(stats.path("chargedTwice").asLong()).isZero();
    assertThat(stats.path("creditsSpent").asLong()).isEqualTo(200);
  }
}
