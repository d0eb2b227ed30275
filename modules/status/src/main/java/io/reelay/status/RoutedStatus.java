package io.reelay.status;

import io.reelay.protocol.Event;
import io.reelay.protocol.RequestState;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.state.HostInfo;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.javadsl.Source;

/**
 * The status view of the whole deployment, whichever instance is asked. A question about one
 * request goes to the instance owning its events partition (Kafka Streams' metadata for its key):
 * this one reads its own store, another is asked over the internal API. When the owner does not
 * answer (it died and the group has not noticed yet) a status is read from a standby copy, so it
 * stays answerable through the failover. A listing asks every instance holding active partitions
 * for its part and merges them.
 */
final class RoutedStatus implements StatusQueries {

  private final StatusStreams streams;
  private final LocalStatus local;
  private final PeerClient peers;

  RoutedStatus(StatusStreams streams, LocalStatus local, PeerClient peers) {
    this.streams = streams;
    this.local = local;
    this.peers = peers;
  }

  @Override
  public CompletionStage<Optional<RequestStatus>> status(String tenant, String requestId) {
    KeyQueryMetadata owner = owner(tenant, requestId);
    if (owner == null) {
      return CompletableFuture.failedFuture(LocalStatus.moving());
    }
    CompletionStage<Optional<RequestStatus>> fromActive =
        isSelf(owner.activeHost()) ? local.status(tenant, requestId) : peers.status(owner.activeHost(), tenant, requestId, false);
    return fromActive.exceptionallyCompose(t -> fromStandbys(owner, tenant, requestId, t));
  }

  /** After the active owner failed to answer: the first standby copy that answers, else the owner's failure. */
  private CompletionStage<Optional<RequestStatus>> fromStandbys(KeyQueryMetadata owner, String tenant, String requestId, Throwable first) {
    CompletionStage<Optional<RequestStatus>> out = CompletableFuture.failedFuture(first);
    for (HostInfo standby : owner.standbyHosts()) {
      out = out.exceptionallyCompose(t -> isSelf(standby)
          ? CompletableFuture.supplyAsync(() -> staleHere(tenant, requestId), Runnable::run)
          : peers.status(standby, tenant, requestId, true));
    }
    return out.exceptionallyCompose(t -> CompletableFuture.failedFuture(ApiErrors.unwrap(first)));
  }

  /** A status from the copy of its partition on this instance, active or standby (it may be behind). */
  Optional<RequestStatus> staleHere(String tenant, String requestId) {
    String key = Listing.requestKey(tenant, requestId);
    byte[] bytes = streams.requestsStale(streams.partitionOf(key)).get(key);
    return bytes == null ? Optional.empty() : Optional.of(StoredRequest.fromBytes(bytes).status());
  }

  @Override
  public CompletionStage<Optional<Source<Event, NotUsed>>> follow(String tenant, String requestId, long afterSeq, boolean waitForFirst) {
    KeyQueryMetadata owner = owner(tenant, requestId);
    if (owner == null) {
      return CompletableFuture.failedFuture(LocalStatus.moving());
    }
    if (isSelf(owner.activeHost())) {
      return local.follow(tenant, requestId, afterSeq, waitForFirst);
    }
    return peers.follow(owner.activeHost(), tenant, requestId, afterSeq, waitForFirst);
  }

  @Override
  public CompletionStage<Page> list(String tenant, String session, RequestState state, String afterPosition, int limit) {
    Set<HostInfo> hosts = streams.activeHosts();
    if (hosts.isEmpty()) {
      return CompletableFuture.failedFuture(LocalStatus.moving());
    }
    List<CompletableFuture<Page>> parts = new ArrayList<>();
    for (HostInfo h : hosts) {
      CompletionStage<Page> part = isSelf(h)
          ? local.list(tenant, session, state, afterPosition, limit)
          : peers.list(h, tenant, session, state, afterPosition, limit);
      parts.add(part.toCompletableFuture());
    }
    return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new))
        .handle((v, t) -> {
          if (t != null) {
            throw ApiErrors.unwrap(t) instanceof ApiErrors.ApiException api ? api : new PeerClient.Unreachable();
          }
          return Page.merge(parts.stream().map(CompletableFuture::join).toList(), limit);
        });
  }

  @Override
  public long approximateCount() {
    return local.approximateCount();
  }

  @Override
  public int liveFollowers() {
    return local.liveFollowers();
  }

  private KeyQueryMetadata owner(String tenant, String requestId) {
    KeyQueryMetadata m = streams.owner(Listing.requestKey(tenant, requestId));
    return m == null || m == KeyQueryMetadata.NOT_AVAILABLE || m.activeHost() == null ? null : m;
  }

  private boolean isSelf(HostInfo h) {
    return streams.self().equals(h);
  }
}
