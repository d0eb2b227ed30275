package io.reelay.loadtest.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.protocol.Json;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** The simulator's admin API ({@code /_sim/*}): its counters, its render jobs, its fault mix. */
final class SimAdmin {

  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private final String baseUrl;

  SimAdmin(String baseUrl) {
    this.baseUrl = baseUrl;
  }

  /** {@code GET /_sim/stats}: the counters ({@code chargedTwice}, {@code duplicateRenderSubmits}, {@code faultsInjected}, …). */
  JsonNode stats() throws IOException, InterruptedException {
    return get("/_sim/stats");
  }

  /** {@code GET /_sim/renders}: every render job with its times (epoch ms) and the polls answered for it. */
  JsonNode renders() throws IOException, InterruptedException {
    return get("/_sim/renders").path("renders");
  }

  /** {@code POST /_sim/faults}: replaces the fault mix (a JSON object of the {@code nemo-sim.faults} keys). */
  void faults(String mix) throws IOException, InterruptedException {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(baseUrl + "/_sim/faults")).timeout(Duration.ofSeconds(10))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(mix)).build(),
        HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) {
      throw new IllegalArgumentException("the simulator refused the fault mix " + mix + ": " + r.body());
    }
  }

  private JsonNode get(String path) throws IOException, InterruptedException {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(baseUrl + path)).timeout(Duration.ofSeconds(30)).build(),
        HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) {
      throw new IOException("GET " + path + " answered " + r.statusCode() + ": " + r.body());
    }
    return Json.read(r.body(), JsonNode.class);
  }
}
