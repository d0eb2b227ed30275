package io.reelay.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.reelay.protocol.Json;
import java.io.IOException;
import java.util.Comparator;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;

/** {@code /_sim/*}: counters, the render jobs, the fault mix, reset. No auth and no faults: bind the simulator to loopback. */
final class AdminRoutes extends SimRoutes {

  AdminRoutes(NemoBackend backend, ActorSystem<?> system) {
    super(backend, system);
  }

  Route route() {
    return pathPrefix("_sim", () -> concat(
        path("stats", () -> get(() -> complete(json(StatusCodes.OK, stats())))),
        path("renders", () -> get(() -> complete(json(StatusCodes.OK, renders())))),
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

  /**
   * Every render job since the last reset, oldest first, for a load test that measures how soon its
   * clients see a render finish and how often they poll: {@code completedAt} is when it ended (null
   * while running), {@code firstSeenCompletedAt} when an answered poll first showed it completed.
   * Ids and times only: no token, no owner, no draft. Reading it is not a poll (it counts nothing).
   */
  private JsonNode renders() {
    long now = backend.nowMillis();
    ArrayNode list = JsonNodeFactory.instance.arrayNode();
    backend.renders().stream().sorted(Comparator.comparingLong((RenderJob j) -> j.createdAt).thenComparing(j -> j.id))
        .forEach(job -> {
          RenderJob.View v = job.view(now);
          ObjectNode r = list.addObject();
          r.put("id", job.id);
          r.put("sessionId", job.sessionId);
          r.put("createdAt", job.createdAt);
          putMillis(r, "completedAt", v.completedAt().orElse(null));
          r.put("status", v.status().wire());
          r.put("polls", job.polls());
          putMillis(r, "firstSeenCompletedAt", job.seenCompletedAt().orElse(null));
        });
    ObjectNode out = JsonNodeFactory.instance.objectNode();
    out.put("now", now);
    out.set("renders", list);
    return out;
  }

  private static void putMillis(ObjectNode node, String field, Long millis) {
    if (millis == null) {
      node.putNull(field);
    } else {
      node.put(field, millis.longValue());
    }
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
