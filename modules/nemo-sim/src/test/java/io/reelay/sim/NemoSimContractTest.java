package io.reelay.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The simulator against a plain JDK HTTP client, endpoint by endpoint (nemo-api.md §3/§4), at a time
 * scale where a generation takes a second or two.
 */
class NemoSimContractTest {

  private static final String PROMPT = "generate a 5-second clip of a fox running through a snowy forest at dusk";

  private static ActorTestKit kit;
  private static NemoSim sim;
  private static SimHttp http;

  @BeforeAll
  static void start() throws Exception {
    Config config = testConfig(Map.of());
    kit = ActorTestKit.create("nemo-sim-test", config);
    sim = startSim(config);
    http = new SimHttp(sim.baseUrl());
  }

  @AfterAll
  static void stop() throws Exception {
    sim.stop().toCompletableFuture().get(10, TimeUnit.SECONDS);
    kit.shutdownTestKit();
  }

  /** A fresh MP4 cache per run, so every run proves the encoder, not a file from an earlier run. */
  private static final Path CACHE = tempDir();

  private static Path tempDir() {
    try {
      return Files.createTempDirectory("nemo-sim-test-cache");
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  static Config testConfig(Map<String, Object> overrides) {
    return ConfigFactory.parseMap(overrides)
        .withFallback(ConfigFactory.parseMap(Map.of("nemo-sim.port", 0, "nemo-sim.time-scale", 0.01,
            "nemo-sim.cache-dir", CACHE.toString())))
        .withFallback(ConfigFactory.load()).resolve();
  }

  static NemoSim startSim(Config config) throws Exception {
    return NemoSim.start(kit.system(), SimSettings.from(config.getConfig("nemo-sim"))).toCompletableFuture()
        .get(30, TimeUnit.SECONDS);
  }

  private static String client() {
    return "client-" + UUID.randomUUID();
  }

  // ---- E1 / E2 ------------------------------------------------------------------------------------

  @Test
  void anonymousTokenNeedsAClientIdAndIsStablePerClient() throws Exception {
    SimHttp.Reply missing = http.post("/api/auth/anonymous-token", null, null, Map.of());
    assertThat(missing.status()).isEqualTo(400);
    assertThat(missing.code()).isEqualTo(400);
    assertThat(missing.json().path("message").asText()).contains("X-Client-Id");
    assertThat(missing.json().has("data")).isTrue();

    String clientId = client();
    SimHttp.Reply first = http.post("/api/auth/anonymous-token", null, null, Map.of("X-Client-Id", clientId));
    assertThat(first.status()).isEqualTo(200);
    assertThat(first.code()).isZero();
    JsonNode data = first.data();
    assertThat(data.path("token").asText()).startsWith("nmv_usr_");
    assertThat(data.path("user_id").asText()).startsWith("anon_");
    assertThat(data.path("credits").asInt()).isEqualTo(100);
    assertThat(Instant.parse(data.path("expires_at").asText()))
        .isBetween(Instant.now().plus(Duration.ofDays(7)).minusSeconds(60), Instant.now().plus(Duration.ofDays(7)).plusSeconds(60));

    SimHttp.Reply again = http.post("/api/auth/anonymous-token", null, null, Map.of("X-Client-Id", clientId));
    assertThat(again.data().path("token").asText()).isEqualTo(data.path("token").asText());
    assertThat(http.token(client())).isNotEqualTo(data.path("token").asText());
  }

  @Test
  void sessionsHave19DigitIdsAndNeedAToken() throws Exception {
    String token = http.token(client());
    SimHttp.Reply r = http.post("/api/tasks/me/with-session/nemo_agent", token, Map.of("task_name", "project"));
    assertThat(r.code()).isZero();
    assertThat(r.data().path("session_id").asText()).matches("\\d{19}");
    assertThat(r.data().path("task_id").asText()).startsWith("task_");

    SimHttp.Reply noToken = http.post("/api/tasks/me/with-session/nemo_agent", null, Map.of("task_name", "project"));
    assertThat(noToken.status()).isEqualTo(200);
    assertThat(noToken.code()).isEqualTo(1001);
    SimHttp.Reply badToken = http.get("/api/credits/balance/simple", "nmv_usr_not-a-real-token");
    assertThat(badToken.code()).isEqualTo(1001);
    assertThat(badToken.raw().body()).doesNotContain("not-a-real-token");
  }

  @Test
  void unknownSessionIs1002() throws Exception {
    String token = http.token(client());
    SimHttp.SseReply stream = http.runSse(token, "1234567890123456789", "hello", e -> { });
    assertThat(stream.contentType()).startsWith("application/json");
    assertThat(stream.errorBody()).contains("\"code\":1002");
    assertThat(http.get("/api/state/nemo_agent/me/1234567890123456789/latest", token).code()).isEqualTo(1002);
    // someone else's session is as unknown as a made-up one
    String other = http.session(http.token(client()));
    assertThat(http.get("/api/state/nemo_agent/me/" + other + "/latest", token).code()).isEqualTo(1002);
  }

  // ---- the happy path: generate, state, render, download -----------------------------------------

  @Test
  void generateThenRenderThenDownloadAPlayableMp4(@TempDir Path dir) throws Exception {
    String token = http.token(client());
    String sid = http.session(token);
    JsonNode before = http.get("/_sim/stats", null).json();
    assertThat(http.get("/api/state/nemo_agent/me/" + sid + "/latest", token).data().path("state").path("draft").isEmpty()).isTrue();

    // E4: the stream, with credits frozen while it runs
    AtomicReference<JsonNode> creditsDuring = new AtomicReference<>();
    SimHttp.SseReply stream = http.runSse(token, sid, PROMPT, e -> {
      if (creditsDuring.get() == null) {
        try {
          creditsDuring.set(http.credits(token).data());
        } catch (Exception ex) {
          throw new IllegalStateException(ex);
        }
      }
    });
    assertThat(stream.status()).isEqualTo(200);
    assertThat(stream.contentType()).startsWith("text/event-stream");
    assertThat(stream.functionCalls()).containsExactly("generate_video_with_seedance", "add_background_music", "add_title");
    assertThat(stream.parts()).filteredOn(p -> p.has("functionResponse")).hasSize(3);
    assertThat(stream.texts()).hasSize(2);
    assertThat(stream.texts().get(0)).contains("raw clip is ready");
    assertThat(stream.texts().get(1)).contains("Timeline (3 tracks)");
    assertThat(stream.heartbeats()).isGreaterThanOrEqualTo(3);
    JsonNode first = stream.events().get(0);
    assertThat(first.path("author").asText()).isEqualTo("nemo_agent");
    assertThat(first.path("invocationId").asText()).startsWith("e-");
    assertThat(first.path("actions").path("stateDelta").isObject()).isTrue();
    assertThat(creditsDuring.get().path("frozen").asInt()).isEqualTo(100);
    assertThat(creditsDuring.get().path("available").asInt()).isZero();

    // E6 afterwards: spent
    JsonNode credits = http.credits(token).data();
    assertThat(credits.path("available").asInt()).isZero();
    assertThat(credits.path("frozen").asInt()).isZero();
    assertThat(credits.path("total").asInt()).isZero();

    // E7: video, then BGM and title tracks
    JsonNode state = http.get("/api/state/nemo_agent/me/" + sid + "/latest", token).data();
    assertThat(state.path("session_id").asText()).isEqualTo(sid);
    assertThat(state.path("task_id").asText()).startsWith("task_");
    JsonNode draft = state.path("state").path("draft");
    List<Integer> types = new ArrayList<>();
    draft.path("t").forEach(t -> types.add(t.path("tt").asInt()));
    assertThat(types).containsExactly(0, 1, 7);
    assertThat(draft.size()).as("only the abbreviated keys: %s", draft).isEqualTo(1);
    JsonNode video = draft.path("t").get(0).path("sg").get(0);
    assertThat(video.path("d").asLong()).isEqualTo(5000);
    assertThat(video.path("m").path("width").asInt()).isEqualTo(640);
    assertThat(draft.path("t").get(2).path("sg").get(0).path("m").path("title").asText()).isEqualTo("Fox Running Through A Snowy Forest");
    assertThat(state.path("state").path("generated_media")).hasSize(1);
    assertThat(state.path("state").has("canvas_config")).isTrue();

    // E8: render, then E9 until completed
    String renderId = "render_" + UUID.randomUUID();
    Map<String, Object> submit = Map.of("id", renderId, "sessionId", sid, "draft", draft,
        "output", Map.of("format", "mp4", "quality", "high"));
    SimHttp.Reply submitted = http.post("/api/render/proxy/lambda", token, submit);
    assertThat(submitted.json().path("success").asBoolean()).isTrue();
    assertThat(submitted.data().path("id").asText()).isEqualTo(renderId);
    assertThat(submitted.data().path("status").asText()).isEqualTo("pending");
    assertThat(submitted.data().path("progress").asInt()).isEqualTo(5);
    SimHttp.Reply again = http.post("/api/render/proxy/lambda", token, submit);
    assertThat(again.data().path("id").asText()).isEqualTo(renderId);

    JsonNode job = pollUntilDone(token, renderId);
    assertThat(job.path("status").asText()).isEqualTo("completed");
    assertThat(job.path("progress").asInt()).isEqualTo(100);
    assertThat(job.path("completedAt").asLong()).isGreaterThanOrEqualTo(job.path("createdAt").asLong());
    String outputUrl = job.path("outputUrl").asText();
    assertThat(outputUrl).isEqualTo(sim.baseUrl() + "/files/render/" + renderId + ".mp4");

    // the output URL (no auth, ranges) and E10 (Bearer) serve the same playable MP4
    HttpResponse<Path> viaUrl = http.download(outputUrl, null, dir.resolve("a.mp4"), null);
    assertThat(viaUrl.statusCode()).isEqualTo(200);
    Mp4Info info = Mp4Probe.probe(viaUrl.body());
    assertThat(info.durationSeconds()).isCloseTo(5.0, within(0.05));
    assertThat(info.width()).isEqualTo(640);
    assertThat(info.height()).isEqualTo(360);
    assertThat(info.frames()).isEqualTo(120);
    HttpResponse<Path> range = http.download(outputUrl, null, dir.resolve("r.bin"), "bytes=0-99");
    assertThat(range.statusCode()).isEqualTo(206);
    assertThat(Files.size(range.body())).isEqualTo(100);
    HttpResponse<Path> viaE10 = http.download(sim.baseUrl() + "/api/render/proxy/" + renderId + "/download", token,
        dir.resolve("b.mp4"), null);
    assertThat(viaE10.statusCode()).isEqualTo(200);
    assertThat(Files.mismatch(viaE10.body(), viaUrl.body())).isEqualTo(-1);

    // no credits left: an edit is refused before any stream starts
    SimHttp.SseReply refused = http.runSse(token, sid, "change the title to \"Snow Fox\"", e -> { });
    assertThat(refused.errorBody()).contains("\"code\":2001");

    JsonNode after = http.get("/_sim/stats", null).json();
    assertThat(delta(before, after, "messages")).isEqualTo(2);
    assertThat(delta(before, after, "renderSubmits")).isEqualTo(2);
    assertThat(delta(before, after, "duplicateRenderSubmits")).isEqualTo(1);
    assertThat(delta(before, after, "creditsSpent")).isEqualTo(100);
    assertThat(after.path("calls").path("run_sse").asLong()).isGreaterThanOrEqualTo(2);
  }

  @Test
  void exportWithoutAttributionHeadersIs402AndAnEmptyDraftIsRefused() throws Exception {
    String token = http.token(client());
    String sid = http.session(token);
    Map<String, Object> draft = Map.of("t", List.of(Map.of("tt", 0, "sg", List.of(Map.of("d", 2000)))));
    SimHttp.Reply refused = http.post("/api/render/proxy/lambda", token,
        Map.of("id", "render_" + UUID.randomUUID(), "sessionId", sid, "draft", draft), Map.of());
    assertThat(refused.status()).isEqualTo(402);
    assertThat(refused.code()).isEqualTo(402);
    assertThat(refused.json().path("message").asText()).contains("X-Skill-Source");

    SimHttp.Reply empty = http.post("/api/render/proxy/lambda", token,
        Map.of("id", "render_" + UUID.randomUUID(), "sessionId", sid, "draft", Map.of()));
    assertThat(empty.json().path("success").asBoolean()).isFalse();
    assertThat(empty.json().path("error").asText()).contains("draft is empty");
  }

  // ---- a second simulator for what changes global state -------------------------------------------

  @Test
  void editsChangeTheDraftRepeatsAreCountedAndResetForgetsEverything() throws Exception {
    NemoSim rich = startSim(testConfig(Map.of("nemo-sim.credits-per-token", 1000, "nemo-sim.faults.silent-edit", 0)));
    try {
      SimHttp h = new SimHttp(rich.baseUrl());
      String token = h.token(client());
      String sid = h.session(token);
      assertThat(h.runSse(token, sid, PROMPT, e -> { }).functionCalls()).contains("generate_video_with_seedance");

      String edit = "change the title to \"Winter Fox\"";
      SimHttp.SseReply edited = h.runSse(token, sid, edit, e -> { });
      assertThat(edited.functionCalls()).containsExactly("edit_multitrack");
      assertThat(edited.texts()).singleElement().asString().contains("Winter Fox");
      JsonNode draft = h.get("/api/state/nemo_agent/me/" + sid + "/latest", token).data().path("state").path("draft");
      assertThat(draft.path("t").get(2).path("sg").get(0).path("m").path("title").asText()).isEqualTo("Winter Fox");
      h.runSse(token, sid, edit, e -> { });

      JsonNode stats = h.get("/_sim/stats", null).json();
      assertThat(stats.path("messages").asLong()).isEqualTo(3);
      assertThat(stats.path("repeatedMessages").asLong()).isEqualTo(1);
      assertThat(stats.path("creditsSpent").asLong()).isEqualTo(200);
      assertThat(stats.path("tokensIssued").asLong()).isEqualTo(1);
      assertThat(stats.path("sessionsCreated").asLong()).isEqualTo(1);
      assertThat(h.credits(token).data().path("available").asInt()).isEqualTo(800);

      assertThat(h.post("/_sim/reset", null, null).status()).isEqualTo(200);
      JsonNode cleared = h.get("/_sim/stats", null).json();
      assertThat(cleared.path("messages").asLong()).isZero();
      assertThat(cleared.path("calls").size()).isZero();
      assertThat(h.credits(token).code()).isEqualTo(1001);
    } finally {
      rich.stop().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void injected429sAreCountedAndCanBeSwitchedOff() throws Exception {
    NemoSim faulty = startSim(testConfig(Map.of()));
    try {
      SimHttp h = new SimHttp(faulty.baseUrl());
      assertThat(h.post("/_sim/faults", null, Map.of("rate-limit-429", 1.0)).json().path("rate-limit-429").asDouble())
          .isEqualTo(1.0);
      SimHttp.Reply limited = h.post("/api/auth/anonymous-token", null, null, Map.of("X-Client-Id", client()));
      assertThat(limited.status()).isEqualTo(429);
      assertThat(limited.code()).isEqualTo(429);
      assertThat(limited.raw().headers().firstValue("Retry-After")).isPresent();

      h.post("/_sim/faults", null, Map.of("rateLimit429", 0.5, "seed", 1));
      int n429 = 0;
      for (int i = 0; i < 40; i++) {
        if (h.post("/api/auth/anonymous-token", null, null, Map.of("X-Client-Id", client())).status() == 429) n429++;
      }
      assertThat(n429).isBetween(8, 32);

      h.post("/_sim/faults", null, Map.of("rate-limit-429", 0));
      assertThat(h.post("/api/auth/anonymous-token", null, null, Map.of("X-Client-Id", client())).status()).isEqualTo(200);
      JsonNode stats = h.get("/_sim/stats", null).json();
      assertThat(stats.path("faultsInjected").path("rate-limit-429").asLong()).isEqualTo(1 + n429);
      assertThat(stats.path("calls").path("anonymous-token").asLong()).isEqualTo(42);
      assertThat(h.post("/_sim/faults", null, Map.of("no-such-fault", 1)).status()).isEqualTo(400);

      // a cut stream: the client loses the connection, the backend still finishes the work
      h.post("/_sim/faults", null, Map.of("stream-cut", 1.0));
      String token = h.token(client());
      String sid = h.session(token);
      List<JsonNode> seen = new ArrayList<>();
      assertThatThrownBy(() -> h.runSse(token, sid, PROMPT, seen::add))
          .isInstanceOfAny(java.io.IOException.class, java.io.UncheckedIOException.class);
      assertThat(seen).isNotEmpty();
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
          assertThat(h.get("/api/state/nemo_agent/me/" + sid + "/latest", token).data().path("state").path("draft").path("t"))
              .hasSize(3));
      assertThat(h.credits(token).data().path("frozen").asInt()).isZero();
    } finally {
      faulty.stop().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void typedWireFormAndTopLevelPollShape() throws Exception {
    NemoSim typed = startSim(testConfig(Map.of("nemo-sim.sse-wire-form", "typed", "nemo-sim.render-poll-shape", "top-level",
        "nemo-sim.errors-as-http-status", true)));
    try {
      SimHttp h = new SimHttp(typed.baseUrl());
      String token = h.token(client());
      String sid = h.session(token);
      SimHttp.SseReply stream = h.runSse(token, sid, "make a 2 second video of rain", e -> { });
      assertThat(stream.events()).extracting(e -> e.path("type").asText()).contains("tool_call", "tool_result", "text");
      JsonNode draft = h.get("/api/state/nemo_agent/me/" + sid + "/latest", token).data().path("state").path("draft");
      String id = "render_" + UUID.randomUUID();
      h.post("/api/render/proxy/lambda", token, Map.of("id", id, "sessionId", sid, "draft", draft));
      JsonNode job = null;
      for (long end = System.nanoTime() + Duration.ofSeconds(30).toNanos(); System.nanoTime() < end; Thread.sleep(100)) {
        job = h.get("/api/render/proxy/lambda/" + id, token).json();
        if (!job.path("status").asText().matches("pending|processing")) break;
      }
      assertThat(job.path("status").asText()).isEqualTo("completed");
      assertThat(job.path("output").path("url").asText()).endsWith("/files/render/" + id + ".mp4");
      SimHttp.Reply unknown = h.get("/api/state/nemo_agent/me/1234567890123456789/latest", token);
      assertThat(unknown.status()).isEqualTo(404);
      assertThat(unknown.code()).isEqualTo(1002);
    } finally {
      typed.stop().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void theProbeRefusesWhatIsNotAnMp4(@TempDir Path dir) throws Exception {
    Path junk = Files.writeString(dir.resolve("junk.mp4"), "not a video at all");
    assertThatThrownBy(() -> Mp4Probe.probe(junk)).isInstanceOf(Mp4Probe.NotPlayable.class).hasMessageContaining("junk.mp4");
    assertThatThrownBy(() -> Mp4Probe.probe(dir.resolve("missing.mp4"))).isInstanceOf(Mp4Probe.NotPlayable.class);
  }

  private static JsonNode pollUntilDone(String token, String renderId) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(40).toNanos();
    JsonNode job = null;
    while (System.nanoTime() < deadline) {
      job = http.get("/api/render/proxy/lambda/" + renderId, token).data();
      if (!job.path("status").asText().matches("pending|processing")) return job;
      Thread.sleep(100);
    }
    return job;
  }

  private static long delta(JsonNode before, JsonNode after, String key) {
    return after.path(key).asLong() - before.path(key).asLong();
  }
}
