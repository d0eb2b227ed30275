package io.reelay.status;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.reelay.protocol.Json;
import io.reelay.protocol.RequestState;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Supplier;
import org.apache.pekko.http.javadsl.marshalling.sse.EventStreamMarshalling;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * The internal API status instances ask each other on ({@code /internal/v1/…}), answered from this
 * instance's own stores only and never routed on. Every call carries the deployment's peer key
 * ({@value #KEY_HEADER}); without it the answer is 403, so a tenant who finds the path learns
 * nothing. The tenant is a parameter: the instance that took the tenant's call checked its API key.
 *
 * <ul>
 *   <li>{@code status?tenant&id[&stale=true]}: a request's status (stale: from a standby copy here);
 *   <li>{@code events?tenant&id&after[&wait=true]}: its events as SSE, history then live;
 *   <li>{@code list?tenant[&session][&state][&after]&limit}: this instance's part of a listing.
 * </ul>
 */
final class PeerRoutes extends AllDirectives {

  static final String KEY_HEADER = "Reelay-Peer-Key";

  private final byte[] key;
  private final LocalStatus local;
  private final StaleReads stale;
  private final StatusSettings settings;

  /** Reads of a standby copy on this instance (null: none here). */
  interface StaleReads {
    Optional<RequestStatus> status(String tenant, String requestId);
  }

  PeerRoutes(String key, LocalStatus local, StaleReads stale, StatusSettings settings) {
    this.key = key.getBytes(StandardCharsets.UTF_8);
    this.local = local;
    this.stale = stale;
    this.settings = settings;
  }

  private static final String PROCESS_KEY = newKey();

  /**
   * The peer key of instances that have none configured: one per process, so the instances of one
   * process (tests, a local stack) reach each other, and those of another process are refused.
   */
  static String processKey() {
    return PROCESS_KEY;
  }

  private static String newKey() {
    byte[] b = new byte[32];
    new SecureRandom().nextBytes(b);
    return Base64.getEncoder().encodeToString(b);
  }

  Route route() {
    return pathPrefix("internal", () -> pathPrefix("v1", () -> optionalHeaderValueByName(KEY_HEADER, presented -> {
      if (presented.isEmpty() || !MessageDigest.isEqual(key, presented.get().getBytes(StandardCharsets.UTF_8))) {
        return complete(ApiErrors.response(StatusCodes.FORBIDDEN, "FORBIDDEN",
            "not a status instance of this deployment (every instance needs the same reelay.status.peers.key)"));
      }
      return get(() -> parameter("tenant", tenant -> concat(
          path("status", () -> parameter("id", id ->
              parameterOptional("stale", stale -> status(tenant, id, stale.isPresent())))),
          path("events", () -> parameter("id", id -> parameter("after", after ->
              parameterOptional("wait", wait -> events(tenant, id, number(after), wait.isPresent()))))),
          path("list", () -> parameterOptional("session", session -> parameterOptional("state", state ->
              parameterOptional("after", after -> parameter("limit", limit ->
                  list(tenant, session.orElse(null), state.map(PeerRoutes::state).orElse(null), after.orElse(null),
                      (int) number(limit))))))))));
    })));
  }

  private static long number(String s) {
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      throw ApiErrors.badRequest("not a number: " + s);
    }
  }

  private static RequestState state(String s) {
    try {
      return RequestState.valueOf(s.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw ApiErrors.badRequest("not a state: " + s);
    }
  }

  private Route status(String tenant, String id, boolean staleOk) {
    return answering(() -> {
      Optional<RequestStatus> s = staleOk && stale != null ? stale.status(tenant, id) : local.statusNow(tenant, id);
      return s.<Route>map(r -> complete(RequestRoutes.json(StatusCodes.OK, Json.mapper().valueToTree(r))))
          .orElseGet(() -> complete(ApiErrors.notFound("no request " + id)));
    });
  }

  private Route events(String tenant, String id, long after, boolean waitForFirst) {
    return answering(() -> local.followNow(tenant, id, after, waitForFirst)
        .<Route>map(events -> completeOK(RequestRoutes.sse(events, settings), EventStreamMarshalling.toEventStream()))
        .orElseGet(() -> complete(ApiErrors.notFound("no request " + id))));
  }

  private Route list(String tenant, String session, RequestState state, String after, int limit) {
    if (after != null && !Listing.isPosition(after)) {
      throw ApiErrors.badRequest("after is not a position");
    }
    return answering(() -> complete(RequestRoutes.json(StatusCodes.OK, pageJson(local.listNow(tenant, session, state, after, limit)))));
  }

  static ObjectNode pageJson(Page page) {
    ObjectNode out = Json.mapper().createObjectNode();
    ArrayNode items = out.putArray("items");
    for (Page.Listed l : page.items()) {
      ObjectNode item = items.addObject();
      item.put("position", l.position());
      item.set("status", Json.mapper().valueToTree(l.status()));
    }
    out.put("hasMore", page.hasMore());
    if (page.next() != null) {
      out.put("next", page.next());
    }
    return out;
  }

  /** {@code inner}, or the store's 503 when it is moving. */
  private Route answering(Supplier<Route> inner) {
    try {
      return inner.get();
    } catch (ApiErrors.ApiException e) {
      return complete(ApiErrors.forException(e));
    } catch (org.apache.kafka.streams.errors.InvalidStateStoreException e) {
      return complete(ApiErrors.forException(LocalStatus.moving()));
    }
  }
}
