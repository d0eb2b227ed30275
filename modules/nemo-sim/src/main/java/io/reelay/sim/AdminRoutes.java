package io.reelay.sim;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.protocol.Json;
import java.io.IOException;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;

/** {@code /_sim/*}: counters, the fault mix, reset. No auth and no faults: bind the simulator to loopback. */
final class AdminRoutes extends SimRoutes {

  AdminRoutes(NemoBackend backend, ActorSystem<?> system) {
    super(backend, system);
  }

  Route route() {
    return pathPrefix("_sim", () -> concat(
        path("stats", () -> get(() -> complete(json(StatusCodes.OK, stats())))),
        path("faults", () -> concat(
            get(() -> complete(json(StatusCodes.OK, backend.faultsSnapshot()))),
            post(() -> entity(Unmarshaller.entityToString(), this::replaceFaults)))),
        path("reset", () -> post(() -> {
          backend.reset();
          return complete(json(StatusCodes.OK, Map.of("reset", true)));
        }))));
  }

  /**
   * The counters, the fault mix, and the render profile: which mode and how many encoder threads, and
   * how many MP4s were encoded since start (like the cache, not cleared by a reset), so a load report
   * can show that the simulator did not encode per title.
   */
  private Map<String, Object> stats() {
    Map<String, Object> out = backend.stats().snapshot();
    out.put("faults", backend.faultsSnapshot());
    out.put("renderMode", backend.settings.renderMode().configValue());
    out.put("renderThreads", backend.settings.renderThreads());
    out.put("encodes", backend.renderer.encodes());
    return out;
  }

  private Route replaceFaults(String body) {
    try {
      JsonNode json = Json.mapper().readTree(body.isBlank() ? "{}" : body);
      backend.dice.replace(Faults.fromJson(json, backend.dice.configured()));
      return complete(json(StatusCodes.OK, backend.faultsSnapshot()));
    } catch (IOException | RuntimeException e) {
      return complete(json(StatusCodes.BAD_REQUEST, Map.of("error", "bad fault mix: " + e.getMessage())));
    }
  }
}
