package io.reelay.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.Request;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.stream.Stream;

/** The status service's HTTP API as the CLI uses it. */
final class StatusApi {

  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).followRedirects(HttpClient.Redirect.NORMAL).build();
  private final String baseUrl;
  private final String apiKey;

  StatusApi(String baseUrl, String apiKey) {
    this.baseUrl = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
    this.apiKey = apiKey;
  }

  /** The latest status, or empty while the request is not known yet. */
  Optional<JsonNode> status(String requestId) throws IOException, InterruptedException {
    HttpResponse<String> r = http.send(get("/v1/requests/" + requestId).build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() == 404) {
      return Optional.empty();
    }
    check(r.statusCode(), r.body());
    return Optional.of(Json.mapper().readTree(r.body()));
  }

  /**
   * Streams the request's events (history, then live) until a terminal one, resuming after a
   * dropped connection from the last seen {@code seq}.
   *
   * @return the terminal event
   */
  Event follow(String requestId, Duration timeout, Consumer<Event> onEvent) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    long lastSeq = 0;
    IOException lastError = null;
    while (System.nanoTime() < deadline) {
      HttpRequest.Builder req = get("/v1/requests/" + requestId + "/events").header("Accept", "text/event-stream");
      if (lastSeq > 0) {
        req.header("Last-Event-ID", Long.toString(lastSeq));
      }
      try {
        HttpResponse<Stream<String>> r = http.send(req.build(), HttpResponse.BodyHandlers.ofLines());
        if (r.statusCode() == 404) {
          r.body().close();
          Thread.sleep(200); // not seen by the status service yet
          continue;
        }
        if (r.statusCode() != 200) {
          String body = String.join("\n", r.body().toList());
          check(r.statusCode(), body);
        }
        try (Stream<String> lines = r.body()) {
          StringBuilder data = new StringBuilder();
          for (String line : (Iterable<String>) lines::iterator) {
            if (line.startsWith("data:")) {
              data.append(line.substring(5).strip());
            } else if (line.isEmpty() && data.length() > 0) {
              Event e = Json.read(data.toString(), Event.class);
              data.setLength(0);
              if (e.seq() > lastSeq) {
                lastSeq = e.seq();
                onEvent.accept(e);
              }
              if (e.isTerminal()) {
                return e;
              }
            }
          }
        }
      } catch (IOException e) {
        lastError = e;
        Thread.sleep(500);
      }
    }
    throw new IOException("no terminal state for " + requestId + " within " + timeout, lastError);
  }

  /** A call the status service answered with an error (4xx, 5xx): its own message, ready to print. */
  static final class Refused extends IOException {
    private final int status;

    Refused(int status, String message) {
      super(message);
      this.status = status;
    }

    int status() {
      return status;
    }
  }

  /**
   * Submits {@code request} ({@code POST /v1/requests}); the service makes it a request of the API
   * key's tenant.
   *
   * @return the requestId the service accepted
   * @throws Refused when the service answered anything but 202, with its error message
   */
  String submit(Request request) throws IOException, InterruptedException {
    HttpRequest post = HttpRequest.newBuilder(URI.create(baseUrl + "/v1/requests"))
        .header("Authorization", "Bearer " + apiKey)
        .header("Content-Type", "application/json")
        .timeout(Duration.ofSeconds(60))
        .POST(HttpRequest.BodyPublishers.ofByteArray(Json.bytes(request)))
        .build();
    HttpResponse<String> r;
    try {
      r = http.send(post, HttpResponse.BodyHandlers.ofString());
    } catch (ConnectException e) {
      throw new IOException("could not reach the status service at " + baseUrl
          + " (is it running? `reelay up` starts one; --status-url or REELAY_STATUS_URL point elsewhere)", e);
    }
    if (r.statusCode() != 202) {
      throw refused(r.statusCode(), r.body());
    }
    return Json.mapper().readTree(r.body()).path("requestId").asText();
  }

  /** Downloads {@code url} to {@code target} (atomically: a partial file never has the final name). */
  Path download(String url, Path target) throws IOException, InterruptedException {
    Files.createDirectories(target.toAbsolutePath().getParent());
    Path part = target.resolveSibling(target.getFileName() + ".part");
    HttpResponse<InputStream> r =
        http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofMinutes(10)).build(),
            HttpResponse.BodyHandlers.ofInputStream());
    if (r.statusCode() != 200) {
      r.body().close();
      throw new IOException("download of " + url + " answered HTTP " + r.statusCode());
    }
    try (InputStream in = r.body()) {
      Files.copy(in, part, StandardCopyOption.REPLACE_EXISTING);
    }
    return Files.move(part, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private HttpRequest.Builder get(String path) {
    return HttpRequest.newBuilder(URI.create(baseUrl + path))
        .header("Authorization", "Bearer " + apiKey)
        .timeout(Duration.ofMinutes(30));
  }

  private void check(int status, String body) throws IOException {
    if (status / 100 != 2) {
      throw refused(status, body);
    }
  }

  /** The service's own words for an error answer ({@code {"error":{"code","message"}}}), else the body. */
  private Refused refused(int status, String body) {
    if (status == 401) {
      return new Refused(status, "the status service at " + baseUrl
          + " refused the API key (401): set REELAY_API_KEY, or run `reelay up`, which writes var/api-key");
    }
    String said = abbreviate(body);
    try {
      JsonNode error = Json.mapper().readTree(body).path("error");
      if (error.hasNonNull("message")) {
        said = error.path("code").asText("ERROR") + ": " + error.path("message").asText();
      }
    } catch (IOException | RuntimeException notJson) {
      // the body as it came, abbreviated
    }
    return new Refused(status, "the status service at " + baseUrl + " answered HTTP " + status + ": " + said);
  }

  private static String abbreviate(String s) {
    return s == null ? "" : s.length() > 200 ? s.substring(0, 200) + "…" : s;
  }
}
