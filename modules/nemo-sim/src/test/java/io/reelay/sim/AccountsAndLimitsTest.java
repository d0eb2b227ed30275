package io.reelay.sim;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Accounts, money and limits (issue item 3/4/5/6): each on its own simulator with the limit under test set small. */
class AccountsAndLimitsTest {

  private static final String PROMPT = "generate a 2-second clip of a lighthouse";

  @Test
  void perAddressTokenCapAnswers429ButTheSameClientGetsItsTokenBack() throws Exception {
    try (SimFixture f = SimFixture.start("address-cap", Map.of("per-address-token-cap", 2))) {
      SimHttp.Reply a = f.http.tokenFrom("client-a", "203.0.113.7");
      SimHttp.Reply b = f.http.tokenFrom("client-b", "203.0.113.7");
      assertThat(a.code()).isZero();
      assertThat(b.code()).isZero();
      SimHttp.Reply c = f.http.tokenFrom("client-c", "203.0.113.7");
      assertThat(c.status()).isEqualTo(429);
      assertThat(c.code()).isEqualTo(429);
      assertThat(c.raw().headers().firstValue("Retry-After")).isPresent();
      // a client id that already has a valid token gets it back: no new token, no cap
      assertThat(f.http.tokenFrom("client-a", "203.0.113.7").data().path("token").asText())
          .isEqualTo(a.data().path("token").asText());
      assertThat(f.http.tokenFrom("client-c", "198.51.100.1").code()).isZero();
      assertThat(f.stats().path("tokensRefused").asLong()).isEqualTo(1);
    }
  }

  @Test
  void theEmbeddedDefaultHasNoAddressCap() throws Exception {
    try (SimFixture f = SimFixture.start("no-cap", Map.of())) {
      for (int i = 0; i < 30; i++) assertThat(f.http.token(SimFixture.client())).startsWith("nmv_usr_");
    }
  }

  @Test
  void anExpiredTokenIs1001OnEveryCallAndTheSameClientGetsANewOne() throws Exception {
    try (SimFixture f = SimFixture.start("token-expiry", Map.of("token-ttl", "1h"))) {
      String clientId = SimFixture.client();
      String token = f.http.token(clientId);
      String sid = f.http.session(token);
      f.clock.pass(Duration.ofMinutes(59));
      assertThat(f.http.credits(token).code()).as("within its lifetime").isZero();
      f.clock.pass(Duration.ofMinutes(1));
      Map<String, Object> draft = Map.of("t", List.of(Map.of("tt", 0, "sg", List.of(Map.of("d", 1000)))));
      List<SimHttp.Reply> replies = List.of(
          f.http.credits(token),
          f.http.get("/api/state/nemo_agent/me/" + sid + "/latest", token),
          f.http.post("/api/tasks/me/with-session/nemo_agent", token, Map.of("task_name", "project")),
          f.http.post("/api/auth/claim-token", token, Map.of("session_id", sid)),
          f.http.post("/api/upload-video/nemo_agent/me/" + sid, token, Map.of("urls", List.of("https://x/a.mp4"))),
          f.http.post("/api/render/proxy/lambda", token, Map.of("id", "r1", "sessionId", sid, "draft", draft)),
          f.http.get("/api/render/proxy/lambda/r1", token));
      for (SimHttp.Reply r : replies) {
        assertThat(r.code()).as(r.raw().uri().toString()).isEqualTo(1001);
        assertThat(r.json().path("message").asText()).isEqualTo("token has expired");
      }
      assertThat(f.http.runSse(token, sid, PROMPT, e -> { }).errorBody()).contains("\"code\":1001");
      String again = f.http.token(clientId);
      assertThat(again).isNotEqualTo(token);
      assertThat(f.http.credits(again).code()).isZero();
    }
  }

  @Test
  void idleSessionsExpireAndTheOldestIsEvictedBeyondTheCap() throws Exception {
    try (SimFixture f = SimFixture.start("sessions", Map.of("session-idle-timeout", "10m", "max-sessions-per-user", 2))) {
      String token = f.token();
      String idle = f.http.session(token);
      f.clock.pass(Duration.ofMinutes(9));
      assertThat(f.http.get("/api/state/nemo_agent/me/" + idle + "/latest", token).code()).as("used within the timeout").isZero();
      f.clock.pass(Duration.ofMinutes(9));
      assertThat(f.http.get("/api/state/nemo_agent/me/" + idle + "/latest", token).code()).as("the use counts as activity").isZero();
      f.clock.pass(Duration.ofMinutes(10));
      SimHttp.Reply r = f.http.get("/api/state/nemo_agent/me/" + idle + "/latest", token);
      assertThat(r.code()).isEqualTo(1002);
      assertThat(f.http.get("/api/state/nemo_agent/me/" + idle + "/latest", token).code()).isEqualTo(1002);

      String s1 = f.http.session(token);
      String s2 = f.http.session(token);
      String s3 = f.http.session(token);
      assertThat(f.http.get("/api/state/nemo_agent/me/" + s1 + "/latest", token).code()).isEqualTo(1002);
      assertThat(f.http.get("/api/state/nemo_agent/me/" + s2 + "/latest", token).code()).isZero();
      assertThat(f.http.get("/api/state/nemo_agent/me/" + s3 + "/latest", token).code()).isZero();
      JsonNode stats = f.stats();
      assertThat(stats.path("sessionsExpired").asLong()).isEqualTo(1);
      assertThat(stats.path("sessionsEvicted").asLong()).isGreaterThanOrEqualTo(1);
    }
  }

  @Test
  void creditsAreFrozenWhileRunningSpentAfterAnd2001WhenShort() throws Exception {
    try (SimFixture f = SimFixture.start("credits", Map.of("credits-per-token", 150))) {
      String token = f.token();
      String sid = f.http.session(token);
      f.http.runSse(token, sid, "[sim:hang] [sim:text] hello", Map.of(), Duration.ofMillis(200), e -> { });
      java.util.concurrent.atomic.AtomicReference<JsonNode> during = new java.util.concurrent.atomic.AtomicReference<>();
      SimHttp.SseReply gen = f.http.runSse(token, sid, PROMPT, e -> {
        if (during.get() != null) return;
        try {
          during.set(f.http.credits(token).data());
        } catch (Exception ex) {
          throw new IllegalStateException(ex);
        }
      });
      assertThat(during.get().path("frozen").asInt()).isEqualTo(100);
      assertThat(during.get().path("available").asInt()).isEqualTo(50);
      assertThat(during.get().path("total").asInt()).isEqualTo(150);
      assertThat(gen.texts()).hasSize(2);
      JsonNode after = f.http.credits(token).data();
      assertThat(after.path("available").asInt()).isEqualTo(50);
      assertThat(after.path("frozen").asInt()).isZero();
      SimHttp.SseReply edit = f.http.runSse(token, sid, "change the title to \"X\"", e -> { });
      assertThat(edit.texts()).hasSize(1);
      SimHttp.SseReply refused = f.http.runSse(token, sid, "change the title to \"Y\"", e -> { });
      assertThat(refused.status()).isEqualTo(200);
      assertThat(refused.contentType()).startsWith("application/json");
      assertThat(refused.errorBody()).contains("\"code\":2001");
      // export stays free
      JsonNode draft = f.state(token, sid).path("draft");
      assertThat(f.http.post("/api/render/proxy/lambda", token, Map.of("id", "free-" + UUID.randomUUID(), "sessionId", sid,
          "draft", draft)).json().path("success").asBoolean()).isTrue();
      assertThat(f.http.credits(token).data().path("available").asInt()).isZero().isNotNegative();
    }
  }

  @Test
  void aRepeatRefusedWith2001IsARepeatButNotChargedTwice() throws Exception {
    try (SimFixture f = SimFixture.start("charged-once", Map.of("credits-per-token", 100))) {
      String token = f.token();
      String sid = f.http.session(token);
      assertThat(f.http.runSse(token, sid, PROMPT, e -> { }).texts()).hasSize(2);
      assertThat(f.http.runSse(token, sid, PROMPT, e -> { }).errorBody()).contains("\"code\":2001");
      JsonNode stats = f.stats();
      assertThat(stats.path("messages").asLong()).isEqualTo(2);
      assertThat(stats.path("repeatedMessages").asLong()).isEqualTo(1);
      assertThat(stats.path("chargedTwice").asLong()).isZero();
      assertThat(stats.path("creditsSpent").asLong()).isEqualTo(100);
    }
  }

  @Test
  void uploadsOverTheLimitAre4002AndTheWholeRequestIsRefused() throws Exception {
    try (SimFixture f = SimFixture.start("upload-limit", Map.of("max-upload-bytes", 1024, "errors-as-http-status", true))) {
      String token = f.token();
      String sid = f.http.session(token);
      Map<String, byte[]> files = new LinkedHashMap<>();
      files.put("small.png", new byte[100]);
      files.put("big.mp4", new byte[5000]);
      SimHttp.Reply r = f.http.uploadMultipart(token, sid, files);
      assertThat(r.status()).isEqualTo(413);
      assertThat(r.code()).isEqualTo(4002);
      assertThat(f.state(token, sid).path("video_infos")).isEmpty();
      SimHttp.Reply wrongType = f.http.uploadMultipart(token, sid, Map.of("notes.txt", new byte[10]));
      assertThat(wrongType.status()).isEqualTo(415);
      assertThat(wrongType.code()).isEqualTo(4001);
      assertThat(f.http.uploadMultipart(token, sid, Map.of("ok.mp3", new byte[1024])).code()).isZero();
    }
  }

  @Test
  void duplicateRenderIdsCanBeAnErrorThatForcesANewId() throws Exception {
    try (SimFixture f = SimFixture.start("dup-render", Map.of("duplicate-render-id", "error"))) {
      String token = f.token();
      String sid = f.http.session(token);
      Map<String, Object> draft = Map.of("t", List.of(Map.of("tt", 0, "sg", List.of(Map.of("d", 1000)))));
      Map<String, Object> body = Map.of("id", "render_dup", "sessionId", sid, "draft", draft);
      assertThat(f.http.post("/api/render/proxy/lambda", token, body).json().path("success").asBoolean()).isTrue();
      SimHttp.Reply again = f.http.post("/api/render/proxy/lambda", token, body);
      assertThat(again.status()).isEqualTo(200);
      assertThat(again.json().path("success").asBoolean()).isFalse();
      assertThat(again.json().path("error").asText()).contains("already exists");
      assertThat(f.stats().path("duplicateRenderSubmits").asLong()).isEqualTo(1);
    }
  }

  @Test
  void latencyIsDrawnPerEndpoint() throws Exception {
    // time-scale 0.002: credits 50 s -> 100 ms; every other endpoint 0
    try (SimFixture f = SimFixture.start("latency", Map.of("latency.default.min", "0ms", "latency.default.max", "0ms",
        "latency.anonymous-token.max", "0ms", "latency.anonymous-token.min", "0ms",
        "latency.credits.min", "50s", "latency.credits.max", "50s"))) {
      String token = f.token();
      f.delays.clear();
      assertThat(f.http.credits(token).code()).isZero();
      assertThat(f.delays).as("the credits answer was held back 50 s x 0.002").containsExactly(Duration.ofMillis(100));
      SimSettings.Latency latency = SimSettings.from(SimFixture.config(Map.of()).getConfig("nemo-sim")).latency();
      assertThat(latency.of("run_sse").max()).isEqualTo(Duration.ofSeconds(1));
      assertThat(latency.of("no-such-endpoint")).isEqualTo(latency.defaults());
    }
  }
}
