package io.reelay.nemo;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.protocol.Json;
import io.reelay.sim.NemoSim;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

/** The simulator's admin API, as tests read it. */
final class SimAdmin {

  private static final HttpClient http = HttpClient.newHttpClient();

  private SimAdmin() {}

  static JsonNode stats(NemoSim sim) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(sim.baseUrl() + "/_sim/stats")).build(),
        HttpResponse.BodyHandlers.ofString());
    return Json.mapper().readTree(r.body());
  }
}
