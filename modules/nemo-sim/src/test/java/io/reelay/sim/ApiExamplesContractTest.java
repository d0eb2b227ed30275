package io.reelay.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.protocol.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every request and response example of nemo-api.md §4/§5 (and the flow of the seed document), sent
 * verbatim with a plain HTTP client: the answers carry the documented field names (with the documented
 * JSON types), envelopes, status codes and content types.
 */
class ApiExamplesContractTest {

  private static SimFixture f;
  private static SimHttp http;

  @BeforeAll
  static void start() throws Exception {
    f = SimFixture.start("api-examples", Map.of("credits-per-token", 1000));
    http = f.http;
  }

  @AfterAll
  static void stop() throws Exception {
    f.close();
  }

  /** A documented example, with its placeholders filled in. */
  private static JsonNode doc(String json, String... placeholders) throws Exception {
    for (int i = 0; i < placeholders.length; i += 2) json = json.replace(placeholders[i], placeholders[i + 1]);
    return Json.mapper().readTree(json);
  }

  /** {@code actual} has every field of {@code example}, recursively, with the same JSON type. */
  private static void assertShape(JsonNode example, JsonNode actual, String where) {
    assertThat(actual.getNodeType()).as(where + " type (%s)", actual).isEqualTo(example.getNodeType());
    if (example.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = example.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        assertThat(actual.has(e.getKey())).as(where + "." + e.getKey() + " in " + actual).isTrue();
        if (!e.getValue().isNumber()) assertShape(e.getValue(), actual.get(e.getKey()), where + "." + e.getKey());
        else assertThat(actual.get(e.getKey()).isNumber()).as(where + "." + e.getKey()).isTrue();
      }
    } else if (example.isArray() && example.size() > 0 && actual.size() > 0) {
      assertShape(example.get(0), actual.get(0), where + "[0]");
    }
  }

  private static void assertJson(SimHttp.Reply r) {
    assertThat(r.raw().headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/json"));
  }

  @Test
  void e1AnonymousToken() throws Exception {
    SimHttp.Reply r = http.post("/api/auth/anonymous-token", null, null, Map.of("X-Client-Id", UUID.randomUUID().toString()));
    assertThat(r.status()).isEqualTo(200);
    assertJson(r);
    assertShape(doc("{\"code\":0,\"data\":{\"token\":\"nmv_usr_xxx\",\"user_id\":\"anon_abc123\",\"expires_at\":\"2026-03-18T00:00:00Z\",\"credits\":100}}"),
        r.json(), "E1");
    assertThat(r.data().path("token").asText()).startsWith("nmv_usr_");
    assertThat(r.data().path("user_id").asText()).startsWith("anon_");
    SimHttp.Reply missing = http.post("/api/auth/anonymous-token", null, null, Map.of());
    assertThat(missing.status()).isEqualTo(400);
    assertJson(missing);
    assertShape(doc("{\"code\":400,\"message\":\"x\"}"), missing.json(), "E1 400");
  }

  @Test
  void e2E3SessionAndClaimToken() throws Exception {
    String token = f.token();
    SimHttp.Reply session = http.post("/api/tasks/me/with-session/nemo_agent", token,
        doc("{\"task_name\":\"project\",\"language\":\"<lang>\"}", "<lang>", "en"));
    assertShape(doc("{\"code\":0,\"data\":{\"task_id\":\"...\",\"session_id\":\"...\"}}"), session.json(), "E2");
    assertThat(session.data().path("session_id").asText()).matches("\\d{19}");
    assertThat(session.data().path("task_id").asText()).startsWith("task_");
    // variants send no language
    assertThat(http.post("/api/tasks/me/with-session/nemo_agent", token, doc("{\"task_name\":\"project\"}")).code()).isZero();

    SimHttp.Reply claim = http.post("/api/auth/claim-token", token, doc("{\"task_id\":\"<task_id>\",\"session_id\":\"<session_id>\"}",
        "<task_id>", session.data().path("task_id").asText(), "<session_id>", session.data().path("session_id").asText()));
    assertShape(doc("{\"code\":0,\"data\":{\"claim_token\":\"clm_xxx\",\"expires_in\":604800}}"), claim.json(), "E3");
    assertThat(claim.data().path("claim_token").asText()).startsWith("clm_");
    assertThat(claim.data().path("expires_in").asInt()).isEqualTo(604800);
  }

  @Test
  void e4RunSseInTheAdkWireForm() throws Exception {
    String token = f.token();
    String sid = http.session(token);
    JsonNode body = doc("{\"app_name\":\"nemo_agent\",\"user_id\":\"me\",\"session_id\":\"<sid>\",\"new_message\":{\"parts\":[{\"text\":\"<msg>\"}]}}",
        "<sid>", sid, "<msg>", "generate a 2-second clip of a red kite");
    java.net.http.HttpResponse<String> raw = java.net.http.HttpClient.newHttpClient().send(
        java.net.http.HttpRequest.newBuilder(java.net.URI.create(http.base + "/run_sse"))
            .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
            .header("Accept", "text/event-stream").header("X-Skill-Source", "nemo-video").header("X-Skill-Version", "1.9")
            .header("X-Skill-Platform", "test")
            .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body.toString())).build(),
        java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(raw.statusCode()).isEqualTo(200);
    assertThat(raw.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/event-stream"));
    String wire = raw.body();
    assertThat(wire).doesNotContain("[DONE]").doesNotContain("\nevent:").doesNotContain("\nid:").doesNotContain("red kite\"}]},\"role\":\"user\"");
    List<JsonNode> events = wire.lines().filter(l -> l.startsWith("data: {"))
        .map(l -> { try { return Json.mapper().readTree(l.substring(6)); } catch (Exception e) { throw new IllegalStateException(e); } })
        .toList();
    // nemo-api.md §5.2, the documented ADK example sequence
    JsonNode callExample = doc("{\"content\":{\"parts\":[{\"functionCall\":{\"id\":\"af-1\",\"args\":{\"city\":\"new york\"},\"name\":\"get_weather\"}}],\"role\":\"model\"},\"invocationId\":\"e-1\",\"author\":\"weather_time_agent\",\"actions\":{\"stateDelta\":{},\"artifactDelta\":{},\"requestedAuthConfigs\":{}},\"longRunningToolIds\":[],\"id\":\"ptcjaZBa\",\"timestamp\":1743712255.313043}");
    ((com.fasterxml.jackson.databind.node.ObjectNode) callExample.path("content").path("parts").get(0).path("functionCall")).set("args", Json.mapper().createObjectNode());
    JsonNode responseExample = doc("{\"content\":{\"parts\":[{\"functionResponse\":{\"id\":\"af-1\",\"name\":\"get_weather\",\"response\":{\"status\":\"success\"}}}],\"role\":\"user\"},\"invocationId\":\"e-1\",\"author\":\"a\",\"actions\":{},\"id\":\"5aocxjaq\",\"timestamp\":1743712257.387306}");
    JsonNode textExample = doc("{\"content\":{\"parts\":[{\"text\":\"OK.\"}],\"role\":\"model\"},\"invocationId\":\"e-1\",\"author\":\"a\",\"actions\":{},\"id\":\"rAnWGSiV\",\"timestamp\":1743712257.391317}");
    assertShape(callExample, events.get(0), "functionCall event");
    assertShape(responseExample, events.get(1), "functionResponse event");
    assertThat(events.get(1).path("content").path("role").asText()).isEqualTo("user");
    assertShape(textExample, events.get(2), "text event");
    assertThat(events.get(0).path("id").asText()).hasSize(8);
    assertThat(events).extracting(e -> e.path("invocationId").asText()).containsOnly(events.get(0).path("invocationId").asText());

    // camelCase bodies are accepted too (Python ADK populate_by_name)
    SimHttp.Reply camel = http.post("/run_sse", token, Map.of("appName", "nemo_agent", "userId", "me", "sessionId", sid,
        "newMessage", Map.of("role", "user", "parts", List.of(Map.of("text", "what can you do?")))));
    assertThat(camel.status()).isEqualTo(200);
    assertThat(camel.raw().headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
  }

  @Test
  void e5UploadsMultipartWithSeveralFilesAndTheUrlForm(@TempDir Path dir) throws Exception {
    String token = f.token();
    String sid = http.session(token);
    Path mp4 = dir.resolve("clip.mp4");
    Mp4Renderer.encode(mp4, 1000, "Up", 160, 90);
    java.awt.image.BufferedImage img = new java.awt.image.BufferedImage(32, 24, java.awt.image.BufferedImage.TYPE_INT_RGB);
    java.io.ByteArrayOutputStream png = new java.io.ByteArrayOutputStream();
    javax.imageio.ImageIO.write(img, "png", png);
    Map<String, byte[]> files = new LinkedHashMap<>();
    files.put("video.mp4", Files.readAllBytes(mp4));
    files.put("logo.png", png.toByteArray());
    SimHttp.Reply r = http.uploadMultipart(token, sid, files);
    assertJson(r);
    JsonNode example = doc("{\"code\":0,\"data\":{\"files\":[{\"filename\":\"video.mp4\",\"file_type\":\"video\",\"cdn_url\":\"https://cdn.example.com/videos/xxx/video.mp4\","
        + "\"duration\":30.5,\"width\":1920,\"height\":1080,\"fps\":30,\"hash\":\"abc123\"}],\"session_state_applied\":true}}");
    assertShape(example, r.json(), "E5 multipart");
    JsonNode video = r.data().path("files").get(0);
    assertThat(video.path("duration").asDouble()).isCloseTo(1.0, within(0.05));
    assertThat(video.path("width").asInt()).isEqualTo(160);
    assertThat(video.path("fps").asInt()).isEqualTo(24);
    JsonNode image = r.data().path("files").get(1);
    assertThat(image.path("file_type").asText()).isEqualTo("image");
    assertThat(image.path("width").asInt()).isEqualTo(32);
    // the cdn_url serves the bytes back
    java.net.http.HttpResponse<Path> back = http.download(video.path("cdn_url").asText(), null, dir.resolve("back.mp4"), null);
    assertThat(back.statusCode()).isEqualTo(200);
    assertThat(Files.mismatch(back.body(), mp4)).isEqualTo(-1);

    SimHttp.Reply urls = http.post("/api/upload-video/nemo_agent/me/" + sid, token,
        doc("{\"urls\":[\"<url>\"],\"source_type\":\"url\"}", "<url>", "https://example.com/media/beach.mov"));
    assertShape(example, urls.json(), "E5 url");
    JsonNode infos = f.state(token, sid).path("video_infos");
    assertThat(infos).hasSize(3);
    assertThat(infos).extracting(i -> i.path("filename").asText()).containsExactly("video.mp4", "logo.png", "beach.mov");

    assertThat(http.post("/api/upload-video/nemo_agent/me/" + sid, token, Map.of("urls", List.of("https://x/y/doc.pdf"))).code())
        .isEqualTo(4001);
  }

  @Test
  void e6E7CreditsAndState() throws Exception {
    String token = f.token();
    String sid = http.session(token);
    SimHttp.Reply credits = http.credits(token);
    assertJson(credits);
    assertShape(doc("{\"code\":0,\"data\":{\"available\":25000,\"frozen\":40,\"total\":25040}}"), credits.json(), "E6");
    SimHttp.Reply state = http.get("/api/state/nemo_agent/me/" + sid + "/latest", token);
    assertShape(doc("{\"code\":0,\"data\":{\"session_id\":\"...\",\"task_id\":\"...\",\"task_name\":\"My Video Project\","
        + "\"state\":{\"video_infos\":[],\"draft\":{},\"canvas_config\":{},\"video_analyses\":{},\"generated_media\":[]}}}"), state.json(), "E7");
  }

  /** The seed document's flow end to end: token, session, SSE, credits, state, export (E8-E11). */
  @Test
  void theSeedFlowAndE8ToE11(@TempDir Path dir) throws Exception {
    String token = http.token(UUID.randomUUID().toString());
    String sid = http.post("/api/tasks/me/with-session/nemo_agent", token, Map.of("task_name", "project", "language", "en"))
        .data().path("session_id").asText();
    SimHttp.SseReply stream = http.runSse(token, sid, "generate a 2-second clip of a city skyline transitioning from day to night", e -> { });
    assertThat(stream.texts()).hasSize(2);
    assertThat(http.credits(token).data().path("available").asInt()).isEqualTo(900);
    JsonNode draft = f.state(token, sid).path("draft");

    String renderId = "render_" + System.currentTimeMillis();
    SimHttp.Reply submitted = http.post("/api/render/proxy/lambda", token,
        doc("{\"id\":\"<id>\",\"sessionId\":\"<sid>\",\"draft\":{},\"output\":{\"format\":\"mp4\",\"quality\":\"high\"}}", "<id>", renderId,
            "<sid>", sid));
    assertThat(submitted.json().path("success").asBoolean()).as("an empty draft: refused").isFalse();
    Map<String, Object> body = new LinkedHashMap<>(Map.of("id", renderId, "sessionId", sid, "draft", draft,
        "output", Map.of("format", "mp4", "quality", "high")));
    submitted = http.post("/api/render/proxy/lambda", token, body);
    assertJson(submitted);
    assertShape(doc("{\"success\":true,\"data\":{\"id\":\"render_xxx\",\"status\":\"pending\",\"progress\":5}}"), submitted.json(), "E8");
    assertThat(http.credits(token).data().path("available").asInt()).as("export is free").isEqualTo(900);

    JsonNode[] done = new JsonNode[1];
    Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50)).until(() -> {
      done[0] = http.get("/api/render/proxy/lambda/" + renderId, token).json();
      return done[0].path("data").path("status").asText().equals("completed");
    });
    assertShape(doc("{\"success\":true,\"data\":{\"id\":\"render_xxx\",\"status\":\"completed\",\"progress\":100,"
        + "\"outputUrl\":\"https://static1.nemovideo.ai/render-result/render_xxx.mp4\",\"createdAt\":1773423613616,\"completedAt\":1773423641222}}"),
        done[0], "E9");
    java.net.http.HttpResponse<Path> file = http.download(http.base + "/api/render/proxy/" + renderId + "/download", token,
        dir.resolve("out.mp4"), null);
    assertThat(file.statusCode()).isEqualTo(200);
    assertThat(file.headers().firstValue("Content-Type")).hasValue("video/mp4");
    assertThat(Mp4Probe.probe(file.body()).durationSeconds()).isCloseTo(2.0, within(0.05));

    // E11: cancel a job that is still pending (no body); the backend's clock stands still meanwhile, so
    // the render cannot finish first however slow this machine is
    String second = "render_" + UUID.randomUUID();
    body.put("id", second);
    f.clock.hold();
    try {
      http.post("/api/render/proxy/lambda", token, body);
      assertThat(http.get("/api/render/proxy/lambda/" + second, token).data().path("status").asText()).isEqualTo("pending");
      SimHttp.Reply cancelled = http.post("/api/render/proxy/lambda/" + second + "/cancel", token, null);
      assertThat(cancelled.json().path("success").asBoolean()).isTrue();
      assertThat(cancelled.data().path("cancelled").asBoolean()).isTrue();
    } finally {
      f.clock.release();
    }
    JsonNode polled = http.get("/api/render/proxy/lambda/" + second, token).data();
    assertThat(polled.path("status").asText()).isEqualTo("failed");
    assertThat(polled.path("error").asText()).isEqualTo("cancelled");
    // and a finished job is left as it is
    SimHttp.Reply late = http.post("/api/render/proxy/lambda/" + renderId + "/cancel", token, null);
    assertThat(late.data().path("cancelled").asBoolean()).isFalse();
    assertThat(late.data().path("status").asText()).isEqualTo("completed");
  }

  @Test
  void businessErrorsAsHttp200OrAsStatusesWithTheSameEnvelope() throws Exception {
    SimHttp.Reply as200 = http.credits("nmv_usr_unknown");
    assertThat(as200.status()).isEqualTo(200);
    assertShape(doc("{\"code\":1001,\"message\":\"x\"}"), as200.json(), "1001");
    try (SimFixture statuses = SimFixture.start("errors-as-status", Map.of("errors-as-http-status", true))) {
      SimHttp.Reply r = statuses.http.credits("nmv_usr_unknown");
      assertThat(r.status()).isEqualTo(401);
      assertThat(r.code()).isEqualTo(1001);
      assertJson(r);
    }
  }
}
