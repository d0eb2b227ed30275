package io.reelay.status;

import io.reelay.protocol.Event;
import io.reelay.protocol.RequestState;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.javadsl.Source;

/**
 * The status stores of this instance, read directly: what it answers for the partitions it owns,
 * to its own API and to its peers. Listings walk the listing index from the cursor on, reading each
 * hit's request, and stop at the limit or after a bounded scan (a filter by state may match few).
 * A store that is not available (a rebalance moves it) answers 503.
 */
final class LocalStatus implements StatusQueries {

  /** Where the stores are: the running Kafka Streams' or a test driver's. */
  interface Stores {
    /** The requests store of one events partition this instance owns. */
    ReadOnlyKeyValueStore<String, byte[]> requests(int partition);

    /** The listing store of one events partition this instance owns. */
    ReadOnlyKeyValueStore<String, String> listing(int partition);

    /** The events partitions this instance owns now (its active tasks). */
    List<Integer> partitions();

    /** The events partition of a request key. */
    int partitionOf(String requestKey);
  }

  /** Listing index entries a page looks at, per entry it returns, before it ends early. */
  static final int SCAN_FACTOR = 20;

  private final Stores stores;
  private final LiveEvents live;
  private final int maxHistory;

  LocalStatus(Stores stores, LiveEvents live, int maxHistory) {
    this.stores = stores;
    this.live = live;
    this.maxHistory = maxHistory;
  }

  @Override
  public CompletionStage<Optional<RequestStatus>> status(String tenant, String requestId) {
    return answer(() -> statusNow(tenant, requestId));
  }

  Optional<RequestStatus> statusNow(String tenant, String requestId) {
    return Optional.ofNullable(stored(Listing.requestKey(tenant, requestId))).map(StoredRequest::status);
  }

  @Override
  public CompletionStage<Optional<Source<Event, NotUsed>>> follow(String tenant, String requestId, long afterSeq, boolean waitForFirst) {
    return answer(() -> followNow(tenant, requestId, afterSeq, waitForFirst));
  }

  Optional<Source<Event, NotUsed>> followNow(String tenant, String requestId, long afterSeq, boolean waitForFirst) {
    String key = Listing.requestKey(tenant, requestId);
    int partition = stores.partitionOf(key);
    if (!waitForFirst && stored(key, partition) == null) {
      return Optional.empty();
    }
    return Optional.of(live.follow(key, partition, afterSeq, () -> storedOrNull(key, partition), waitForFirst, maxHistory));
  }

  @Override
  public CompletionStage<Page> list(String tenant, String session, RequestState state, String afterPosition, int limit) {
    return answer(() -> listNow(tenant, session, state, afterPosition, limit));
  }

  Page listNow(String tenant, String session, RequestState state, String afterPosition, int limit) {
    List<Page> parts = new ArrayList<>();
    try {
      for (int partition : stores.partitions()) {
        parts.add(listPartition(partition, tenant, session, state, afterPosition, limit));
      }
    } catch (InvalidStateStoreException e) {
      throw moving();
    }
    return Page.merge(parts, limit);
  }

  /** One partition's part of a listing: its index walked in order from the cursor. */
  private Page listPartition(int partition, String tenant, String session, RequestState state, String afterPosition, int limit) {
    String prefix = Listing.prefix(tenant, session);
    String from = afterPosition == null ? prefix : Listing.after(prefix + afterPosition);
    long budget = (long) SCAN_FACTOR * limit + 100;
    List<Page.Listed> items = new ArrayList<>();
    String lastScanned = null;
    ReadOnlyKeyValueStore<String, byte[]> requests = stores.requests(partition);
    try (KeyValueIterator<String, String> it = stores.listing(partition).range(from, null)) {
      while (it.hasNext()) {
        KeyValue<String, String> kv = it.next();
        if (!kv.key.startsWith(prefix)) {
          break;
        }
        String position = kv.key.substring(prefix.length());
        boolean matches = state == null || state.name().equals(kv.value);
        if (matches && items.size() == limit) {
          // one more exists
          return new Page(items, true, items.get(limit - 1).position());
        }
        if (budget-- <= 0 && lastScanned != null) {
          return new Page(items, true, lastScanned);
        }
        lastScanned = position;
        if (matches) {
          byte[] bytes = requests.get(Listing.requestKey(tenant, position.substring(16)));
          if (bytes != null) {
            items.add(new Page.Listed(position, StoredRequest.fromBytes(bytes).status()));
          }
        }
      }
    }
    return new Page(items, false, null);
  }

  @Override
  public long approximateCount() {
    long n = 0;
    try {
      for (int partition : stores.partitions()) {
        n += stores.requests(partition).approximateNumEntries();
      }
    } catch (InvalidStateStoreException e) {
      // moving: what was counted so far
    }
    return n;
  }

  @Override
  public int liveFollowers() {
    return live.count();
  }

  /** The stored request of a key (null: none), or a 503 while the store is not available. */
  StoredRequest stored(String key) {
    return stored(key, stores.partitionOf(key));
  }

  private StoredRequest stored(String key, int partition) {
    byte[] bytes = store(() -> stores.requests(partition)).get(key);
    return bytes == null ? null : StoredRequest.fromBytes(bytes);
  }

  private StoredRequest storedOrNull(String key, int partition) {
    try {
      return stored(key, partition);
    } catch (RuntimeException e) {
      return null;
    }
  }

  private static <S> S store(Supplier<S> store) {
    try {
      return store.get();
    } catch (InvalidStateStoreException e) {
      throw moving();
    }
  }

  static ApiErrors.ApiException moving() {
    return ApiErrors.unavailable(
        "the status of this request is moving between status instances (a rebalance); retry in a few seconds");
  }

  private static <T> CompletionStage<T> answer(Supplier<T> now) {
    try {
      return CompletableFuture.completedFuture(now.get());
    } catch (InvalidStateStoreException e) {
      return CompletableFuture.failedFuture(moving());
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }
}
