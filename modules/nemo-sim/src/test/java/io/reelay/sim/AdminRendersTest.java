package io.reelay.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code GET /_sim/renders}: every render job with its times and the polls answered for it, what a
 * load test reads to see how soon a client saw a render finish; no secret in it.
 */
class AdminRendersTest {

  private static SimFixture f;

  @BeforeAll
  static void start() throws Exception {
    // a render takes 0.6-1.8 s: long enough to be seen running, short enough for a test
    f = SimFixture.start("admin-renders", Map.of("time-scale", 0.02));
  }

  @AfterAll
  static void stop() throws Exception {
    f.close();
  }

  @Test
  void listsEachRenderWithItsTimesAndPollsAndNoSecrets() throws Exception {
    String token = f.token();
    String sid = f.http.session(token);
    String id = "render_" + UUID.randomUUID();
    submit(token, sid, id);

    JsonNode running = render(id);
    assertThat(running.path("sessionId").asText()).isEqualTo(sid);
    assertThat(running.path("status").asText()).isIn("pending", "processing");
    assertThat(running.path("completedAt").isNull()).as(running.toString()).isTrue();
    assertThat(running.path("firstSeenCompletedAt").isNull()).as(running.toString()).isTrue();
    assertThat(running.path("polls").asInt()).isZero();

    List<String> seen = new ArrayList<>();
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50)).until(() -> {
      seen.add(f.http.get("/api/render/proxy/lambda/" + id, token).data().path("status").asText());
      return seen.get(seen.size() - 1).equals("completed");
    });
    long polledAfter = System.currentTimeMillis();
    f.http.get("/api/render/proxy/lambda/" + id, token); // one more poll after it was seen completed

    JsonNode done = render(id);
    assertThat(done.path("status").asText()).isEqualTo("completed");
    assertThat(done.path("polls").asInt()).isEqualTo(seen.size() + 1);
    long created = done.path("createdAt").asLong();
    long completed = done.path("completedAt").asLong();
    long firstSeen = done.path("firstSeenCompletedAt").asLong();
    assertThat(completed).isGreaterThan(created);
    assertThat(firstSeen).as("the first poll that saw it done, not the last").isBetween(completed, polledAfter);
    assertThat(done.toString()).doesNotContain(token).doesNotContain("nmv_usr_").doesNotContain("anon_");
    assertThat(iterable(done.fieldNames())).containsExactly("id", "sessionId", "createdAt", "completedAt", "status", "polls",
        "firstSeenCompletedAt");
  }

  @Test
  void aPollOfSomeoneElsesRenderIsNotCountedAndAResetForgetsTheRenders() throws Exception {
    String token = f.token();
    String id = "render_" + UUID.randomUUID();
    submit(token, f.http.session(token), id);
    assertThat(f.http.get("/api/render/proxy/lambda/" + id, f.token()).code()).as("another caller's poll").isNotZero();
    assertThat(render(id).path("polls").asInt()).isZero();

    SimFixture other = SimFixture.start("admin-renders-reset", Map.of());
    try {
      String t = other.token();
      other.http.post("/api/render/proxy/lambda", t, Map.of("id", "render_r1", "sessionId", other.http.session(t), "draft", draft()));
      assertThat(other.http.get("/_sim/renders", null).json().path("renders").size()).isEqualTo(1);
      assertThat(other.http.post("/_sim/reset", null, null).status()).isEqualTo(200);
      assertThat(other.http.get("/_sim/renders", null).json().path("renders").size()).isZero();
    } finally {
      other.close();
    }
  }

  private static void submit(String token, String sid, String id) throws Exception {
    SimHttp.Reply r = f.http.post("/api/render/proxy/lambda", token, Map.of("id", id, "sessionId", sid, "draft", draft()));
    assertThat(r.json().path("success").asBoolean()).as(r.raw().body()).isTrue();
  }

  private static Map<String, Object> draft() {
    return Map.of("t", List.of(Map.of("tt", Draft.VIDEO, "sg", List.of(Map.of("start", 0, "d", 1000, "m", Map.of("title", "T"))))));
  }

  /** The job {@code id} as {@code /_sim/renders} lists it. */
  private static JsonNode render(String id) throws Exception {
    SimHttp.Reply r = f.http.get("/_sim/renders", null);
    assertThat(r.status()).isEqualTo(200);
    for (JsonNode j : r.json().path("renders")) {
      if (j.path("id").asText().equals(id)) {
        return j;
      }
    }
    throw new AssertionError("render " + id + " not listed: " + r.raw().body());
  }

  private static <T> List<T> iterable(java.util.Iterator<T> it) {
    List<T> l = new ArrayList<>();
    it.forEachRemaining(l::add);
    return l;
  }
}
