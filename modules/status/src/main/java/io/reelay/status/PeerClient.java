package io.reelay.status;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.RequestState;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.settings.ClientConnectionSettings;
import org.apache.pekko.http.javadsl.settings.ConnectionPoolSettings;
import org.apache.pekko.http.javadsl.unmarshalling.sse.EventStreamUnmarshalling;
import org.apache.pekko.http.scaladsl.settings.ServerSentEventSettings;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.kafka.streams.state.HostInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks another status instance's internal API ({@link PeerRoutes}) for what it owns. Answers: the
 * value, empty for 404, or a failed stage: {@link Unreachable} when the peer did not answer (the
 * caller may ask a standby), an {@link ApiErrors.ApiException} 503 otherwise.
 */
final class PeerClient {

  private static final Logger log = LoggerFactory.getLogger(PeerClient.class);

  /** The peer did not answer at all (down, or too slow): a 503, and a standby may answer instead. */
  static final class Unreachable extends ApiErrors.ApiException {
    Unreachable() {
      super(StatusCodes.SERVICE_UNAVAILABLE, "UNAVAILABLE",
          "the status instance holding this request did not answer; retry in a few seconds", ApiErrors.UNAVAILABLE_RETRY_AFTER_SECONDS);
    }
  }

  private final ActorSystem<?> system;
  private final String key;
  private final Duration timeout;
  private final ConnectionPoolSettings pool;
  private final ServerSentEventSettings sse;
  private final AtomicLong refusedLogged = new AtomicLong();
  // peers that did not answer lately, and until when (nanoTime) they are not asked: a dead owner costs
  // one timeout, not one per question, while the group has not noticed yet
  private final Map<HostInfo, Long> down = new ConcurrentHashMap<>();

  /** How long a peer that did not answer is not asked again. */
  static final Duration DOWN_FOR = Duration.ofSeconds(2);

  /** @param maxEventBytes the largest SSE event a peer may send (a stored request's size bounds it) */
  PeerClient(ActorSystem<?> system, String key, Duration timeout, int connections, int maxEventBytes) {
    this.system = system;
    this.sse = ServerSentEventSettings.apply(system.settings().config()).withMaxEventSize(maxEventBytes + 1024).withLineLength(maxEventBytes);
    this.key = key;
    this.timeout = timeout;
    int open = Integer.highestOneBit(Math.max(1, connections * 2 - 1)) * 2;
    this.pool = ConnectionPoolSettings.create(system.classicSystem())
        .withMaxConnections(connections)
        .withMaxOpenRequests(open)
        .withMaxRetries(0)
        .withConnectionSettings(ClientConnectionSettings.create(system.classicSystem()).withConnectingTimeout(timeout));
  }

  CompletionStage<Optional<RequestStatus>> status(HostInfo host, String tenant, String id, boolean stale) {
    String q = "tenant=" + enc(tenant) + "&id=" + enc(id) + (stale ? "&stale=true" : "");
    return call(host, "status", q).thenCompose(r -> body(host, r, node -> Json.mapper().treeToValue(node, RequestStatus.class)));
  }

  CompletionStage<Optional<Source<Event, NotUsed>>> follow(HostInfo host, String tenant, String id, long afterSeq, boolean waitForFirst) {
    String q = "tenant=" + enc(tenant) + "&id=" + enc(id) + "&after=" + afterSeq + (waitForFirst ? "&wait=true" : "");
    return call(host, "events", q).thenCompose(r -> {
      if (r.status().equals(StatusCodes.OK)) {
        return EventStreamUnmarshalling.fromEventsStream(sse)
            .unmarshal(r.entity(), system)
            .thenApply(sse -> Optional.of(sse
                .filter(e -> !e.getData().isEmpty())
                .map(e -> Json.mapper().readValue(e.getData(), Event.class))));
      }
      return body(host, r, node -> (Source<Event, NotUsed>) null).thenApply(x -> Optional.<Source<Event, NotUsed>>empty());
    });
  }

  CompletionStage<Page> list(HostInfo host, String tenant, String session, RequestState state, String after, int limit) {
    StringBuilder q = new StringBuilder("tenant=").append(enc(tenant)).append("&limit=").append(limit);
    if (session != null) {
      q.append("&session=").append(enc(session));
    }
    if (state != null) {
      q.append("&state=").append(state.name());
    }
    if (after != null) {
      q.append("&after=").append(enc(after));
    }
    return call(host, "list", q.toString())
        .thenCompose(r -> body(host, r, PeerClient::page))
        .thenApply(p -> p.orElseThrow(() -> unavailable(host, "answered 404 to a listing")));
  }

  private static Page page(JsonNode node) throws IOException {
    List<Page.Listed> items = new ArrayList<>();
    for (JsonNode item : node.path("items")) {
      items.add(new Page.Listed(item.path("position").asText(), Json.mapper().treeToValue(item.path("status"), RequestStatus.class)));
    }
    boolean more = node.path("hasMore").asBoolean();
    return new Page(items, more, more ? node.path("next").asText() : null);
  }

  private CompletionStage<HttpResponse> call(HostInfo host, String what, String query) {
    Long until = down.get(host);
    if (until != null) {
      if (System.nanoTime() - until < 0) {
        return CompletableFuture.failedFuture(new Unreachable());
      }
      down.remove(host, until);
    }
    HttpRequest req = HttpRequest.GET("http://" + host.host() + ":" + host.port() + "/internal/v1/" + what + "?" + query)
        .addHeader(RawHeader.create(PeerRoutes.KEY_HEADER, key));
    return Http.get(system).singleRequest(req, Http.get(system).defaultClientHttpsContext(), pool, system.classicSystem().log())
        .toCompletableFuture()
        .orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS)
        .handle((r, t) -> {
          if (t != null) {
            if (down.put(host, System.nanoTime() + DOWN_FOR.toNanos()) == null) {
              log.warn("status instance {}:{} did not answer ({}); asking standbys for {}", host.host(), host.port(),
                  ApiErrors.unwrap(t).getClass().getSimpleName(), DOWN_FOR);
            }
            throw new Unreachable();
          }
          return r;
        });
  }

  private interface Reader<T> {
    T read(JsonNode node) throws IOException;
  }

  /** The JSON answer read by {@code reader}, empty for 404; a 503 for any other status. */
  private <T> CompletionStage<Optional<T>> body(HostInfo host, HttpResponse r, Reader<T> reader) {
    int status = r.status().intValue();
    return r.entity().toStrict(timeout.toMillis(), system).thenApply(strict -> {
      if (status == 404) {
        return Optional.<T>empty();
      }
      if (status != 200) {
        if (status == 403 && refusedLogged.getAndIncrement() % 100 == 0) {
          log.error("status instance {}:{} refused this instance's peer key: set reelay.status.peers.key (REELAY_STATUS_PEER_KEY) "
              + "to the same value on every status instance", host.host(), host.port());
        }
        throw status == 503 ? LocalStatus.moving() : unavailable(host, "answered " + status);
      }
      try {
        return Optional.ofNullable(reader.read(Json.mapper().readTree(strict.getData().toArray())));
      } catch (IOException e) {
        throw unavailable(host, "gave an unreadable answer");
      }
    });
  }

  private static ApiErrors.ApiException unavailable(HostInfo host, String what) {
    log.warn("status instance {}:{} {}", host.host(), host.port(), what);
    return ApiErrors.unavailable(
        "another status instance, which holds part of this answer, did not answer it; retry in a few seconds");
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }
}
