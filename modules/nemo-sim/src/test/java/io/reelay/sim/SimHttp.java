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

  /** What a /run_sse stream carried, line by line. */
  record SseReply(int status, String contentType, List<JsonNode> events, int heartbeats, String errorBody) {
    List<JsonNode> parts() {
      List<JsonNode> out = new ArrayList<>();
      for (JsonNode e : events) e.path("content").path("parts").forEach(out::add);
      return out;
    }

    List<String> texts() {
      return parts().stream().filter(p -> p.has("text")).map(p -> p.get("text").asText()).toList();
    }

    List<String> functionCalls() {
      return parts().stream().filter(p -> p.has("functionCall")).map(p -> p.path("functionCall").path("name").asText()).toList();
    }
  }

  /** Sends a message and reads the SSE answer to its end; {@code onEvent} sees each JSON event as it arrives. */
  SseReply runSse(String token, String sessionId, String text, Consumer<JsonNode> onEvent) throws Exception {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("app_name", "nemo_agent");
    body.put("user_id", "me");
    body.put("session_id", sessionId);
    body.put("new_message", Map.of("parts", List.of(Map.of("text", text))));
    HttpRequest req = builder("/run_sse", token, ATTRIBUTION).header("Content-Type", "application/json")
        .header("Accept", "text/event-stream").POST(HttpRequest.BodyPublishers.ofByteArray(Json.bytes(body))).build();
    HttpResponse<java.util.stream.Stream<String>> resp = http.send(req, HttpResponse.BodyHandlers.ofLines());
    String type = resp.headers().firstValue("Content-Type").orElse("");
    if (!type.startsWith("text/event-stream")) {
      return new SseReply(resp.statusCode(), type, List.of(), 0, String.join("\n", resp.body().toList()));
    }
    List<JsonNode> events = new ArrayList<>();
    int heartbeats = 0;
    try (java.util.stream.Stream<String> lines = resp.body()) {
      for (String line : (Iterable<String>) lines::iterator) {
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
    return new SseReply(resp.statusCode(), type, events, heartbeats, null);
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
