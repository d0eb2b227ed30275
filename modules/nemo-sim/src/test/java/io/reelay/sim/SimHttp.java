package io.reelay.sim;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.protocol.Json;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/** A plain JDK HTTP client speaking to the simulator the way the vendor's skill does (test helper). */
final class SimHttp {

  static final Map<String, String> ATTRIBUTION =
      Map.of("X-Skill-Source", "nemo-video", "X-Skill-Version", "1.9", "X-Skill-Platform", "test");

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  final String base;

  SimHttp(String base) {
    this.base = base;
  }

  record Reply(int status, JsonNode json, HttpResponse<String> raw) {
    int code() {
      return json.path("code").asInt(-1);
    }

    JsonNode data() {
      return json.path("data");
    }
  }

  Reply get(String path, String token) throws Exception {
    return send(builder(path, token, ATTRIBUTION).GET());
  }

  Reply post(String path, String token, Object body) throws Exception {
    return post(path, token, body, ATTRIBUTION);
  }

  Reply post(String path, String token, Object body, Map<String, String> headers) throws Exception {
    HttpRequest.BodyPublisher pub = body == null ? HttpRequest.BodyPublishers.noBody()
        : HttpRequest.BodyPublishers.ofByteArray(Json.bytes(body));
    return send(builder(path, token, headers).header("Content-Type", "application/json").POST(pub));
  }

  String token(String clientId) throws Exception {
    Reply r = send(builder("/api/auth/anonymous-token", null, Map.of("X-Client-Id", clientId))
        .POST(HttpRequest.BodyPublishers.noBody()));
    if (r.code() != 0) throw new AssertionError("no token: " + r.raw().body());
    return r.data().path("token").asText();
  }

  String session(String token) throws Exception {
    return post("/api/tasks/me/with-session/nemo_agent", token, Map.of("task_name", "project", "language", "en"))
        .data().path("session_id").asText();
  }

  Reply credits(String token) throws Exception {
    return get("/api/credits/balance/simple", token);
  }

  /** What a /run_sse stream carried, line by line; {@code stillOpen} when we stopped reading before the server closed it. */
  record SseReply(int status, String contentType, List<JsonNode> events, int heartbeats, String errorBody,
      List<String> lines, boolean stillOpen) {
    SseReply(int status, String contentType, List<JsonNode> events, int heartbeats, String errorBody) {
      this(status, contentType, events, heartbeats, errorBody, List.of(), false);
    }

    List<JsonNode> parts() {
      List<JsonNode> out = new ArrayList<>();
      for (JsonNode e : events) e.path("content").path("parts").forEach(out::add);
      return out;
    }

    /** Non-partial texts (ADK form). */
    List<String> texts() {
      List<String> out = new ArrayList<>();
      for (JsonNode e : events) {
        if (e.path("partial").asBoolean(false)) continue;
        e.path("content").path("parts").forEach(p -> { if (p.has("text")) out.add(p.get("text").asText()); });
      }
      return out;
    }

    List<String> partialTexts() {
      List<String> out = new ArrayList<>();
      for (JsonNode e : events) {
        if (!e.path("partial").asBoolean(false)) continue;
        e.path("content").path("parts").forEach(p -> { if (p.has("text")) out.add(p.get("text").asText()); });
      }
      return out;
    }

    List<String> functionCalls() {
      return parts().stream().filter(p -> p.has("functionCall")).map(p -> p.path("functionCall").path("name").asText()).toList();
    }

    List<JsonNode> errors() {
      return events.stream().filter(e -> e.has("error")).toList();
    }
  }

  /** Sends a message and reads the SSE answer to its end; {@code onEvent} sees each JSON event as it arrives. */
  SseReply runSse(String token, String sessionId, String text, Consumer<JsonNode> onEvent) throws Exception {
    return runSse(token, sessionId, text, Map.of(), Duration.ofSeconds(60), onEvent);
  }

  /**
   * As above with extra body fields (e.g. {@code streaming:true}); stops reading (and closes the
   * connection) once {@code readAtMost} has passed, reporting {@code stillOpen}.
   */
  SseReply runSse(String token, String sessionId, String text, Map<String, Object> extra, Duration readAtMost,
      Consumer<JsonNode> onEvent) throws Exception {
    return readSse(openSse(token, sessionId, text, extra, readAtMost), readAtMost, onEvent);
  }

  /** Sends a message and returns once the response headers are in (the body is left unread). */
  HttpResponse<java.io.InputStream> openSse(String token, String sessionId, String text, Map<String, Object> extra,
      Duration readAtMost) throws Exception {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("app_name", "nemo_agent");
    body.put("user_id", "me");
    body.put("session_id", sessionId);
    body.put("new_message", Map.of("parts", List.of(Map.of("text", text))));
    body.putAll(extra);
    HttpRequest req = HttpRequest.newBuilder(URI.create(base + "/run_sse")).timeout(readAtMost.plusSeconds(30))
        .header("Authorization", "Bearer " + token).header("X-Skill-Source", "nemo-video").header("X-Skill-Version", "1.9")
        .header("X-Skill-Platform", "test").header("Content-Type", "application/json")
        .header("Accept", "text/event-stream").POST(HttpRequest.BodyPublishers.ofByteArray(Json.bytes(body))).build();
    return http.send(req, HttpResponse.BodyHandlers.ofInputStream());
  }

  /** Reads an {@link #openSse} answer: the SSE stream to its end (or {@code readAtMost}), else the error body. */
  SseReply readSse(HttpResponse<java.io.InputStream> resp, Duration readAtMost, Consumer<JsonNode> onEvent) throws Exception {
    String type = resp.headers().firstValue("Content-Type").orElse("");
    if (!type.startsWith("text/event-stream")) {
      try (java.io.InputStream in = resp.body()) {
        return new SseReply(resp.statusCode(), type, List.of(), 0, new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
      }
    }
    List<JsonNode> events = new ArrayList<>();
    List<String> lines = new ArrayList<>();
    int heartbeats = 0;
    boolean stillOpen = false;
    long deadline = System.nanoTime() + readAtMost.toNanos();
    try (java.io.BufferedReader reader = new java.io.BufferedReader(
        new java.io.InputStreamReader(resp.body(), java.nio.charset.StandardCharsets.UTF_8))) {
      String line;
      while (true) {
        if (System.nanoTime() > deadline) {
          stillOpen = true;
          break;
        }
        line = reader.readLine();
        if (line == null) break;
        lines.add(line);
        if (line.startsWith(":")) {
          heartbeats++;
        } else if (line.startsWith("data:")) {
          String payload = line.substring(5).strip();
          if (payload.isEmpty()) {
            heartbeats++;
          } else {
            JsonNode e = Json.mapper().readTree(payload);
            if ("heartbeat".equals(e.path("type").asText())) {
              heartbeats++;
            } else {
              events.add(e);
              onEvent.accept(e);
            }
          }
        }
      }
    }
    return new SseReply(resp.statusCode(), type, events, heartbeats, null, lines, stillOpen);
  }

  /** E5 multipart: one part named {@code files} per entry (file name → bytes), as {@code curl -F files=@a.mp4 -F files=@b.png}. */
  Reply uploadMultipart(String token, String sessionId, Map<String, byte[]> files) throws Exception {
    String boundary = "----reelay" + java.util.UUID.randomUUID();
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    for (Map.Entry<String, byte[]> f : files.entrySet()) {
      out.write(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"files\"; filename=\"" + f.getKey()
          + "\"\r\nContent-Type: application/octet-stream\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
      out.write(f.getValue());
      out.write("\r\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    out.write(("--" + boundary + "--\r\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
    return send(builder("/api/upload-video/nemo_agent/me/" + sessionId, token, ATTRIBUTION)
        .header("Content-Type", "multipart/form-data; boundary=" + boundary)
        .POST(HttpRequest.BodyPublishers.ofByteArray(out.toByteArray())));
  }

  /** E1 as from another address (the simulator trusts X-Forwarded-For, like a gateway behind a proxy). */
  Reply tokenFrom(String clientId, String address) throws Exception {
    return send(builder("/api/auth/anonymous-token", null, Map.of("X-Client-Id", clientId, "X-Forwarded-For", address))
        .POST(HttpRequest.BodyPublishers.noBody()));
  }

  HttpResponse<Path> download(String url, String token, Path target, String range) throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).GET();
    if (token != null) b.header("Authorization", "Bearer " + token);
    if (range != null) b.header("Range", range);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofFile(target));
  }

  private HttpRequest.Builder builder(String path, String token, Map<String, String> headers) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30));
    if (token != null) b.header("Authorization", "Bearer " + token);
    headers.forEach(b::header);
    return b;
  }

  private Reply send(HttpRequest.Builder b) throws Exception {
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    JsonNode json;
    try {
      json = Json.mapper().readTree(r.body().isEmpty() ? "{}" : r.body());
    } catch (IOException e) {
      json = Json.mapper().createObjectNode();
    }
    return new Reply(r.statusCode(), json, r);
  }
}
