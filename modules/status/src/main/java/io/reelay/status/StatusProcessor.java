package io.reelay.status;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Folds {@code <prefix>.events} into the status stores, one task per events partition: the latest
 * status and bounded history of each request ({@link #REQUESTS}) and the listing indexes ({@link
 * #LISTING}, see {@link Listing}). Both stores are RocksDB with a changelog topic, so a restarted or
 * moved task restores them instead of replaying the events.
 *
 * <p>An event whose {@code seq} is not above its request's latest is a duplicate or out of order and
 * is ignored, as is an unreadable record (counted and logged by position, never by content) and one
 * whose record key is not its request's key (it would live where no query looks). A wall-clock
 * punctuation deletes requests not updated within the retention.
 */
final class StatusProcessor implements Processor<String, byte[], Void, Void> {

  private static final Logger log = LoggerFactory.getLogger(StatusProcessor.class);

  static final String REQUESTS = "reelay-status-requests";
  static final String LISTING = "reelay-status-listing";

  /** Requests deleted per purge run at most (the rest go at the next run), so a task never stalls long. */
  static final int PURGE_BATCH = 10_000;

  /** What the processor is told: bounds, retention and where its meters go. */
  record Settings(int maxHistory, int maxHistoryBytes, Duration retention, Duration purgeInterval) {}

  /** The counters every task shares. */
  record Meters(Counter consumed, Counter duplicates, Counter unreadable, Counter misrouted, Counter purged) {
    static Meters register(MeterRegistry registry) {
      return new Meters(
          Counter.builder("reelay_status_events_consumed").description("events read from the events topic").register(registry),
          ignored(registry, "duplicate", "events already seen (seq not above the last)"),
          ignored(registry, "unreadable", "records that are not a readable event"),
          ignored(registry, "misrouted", "events whose record key is not their request's key"),
          Counter.builder("reelay_status_requests_purged").description("requests deleted after the retention").register(registry));
    }

    private static Counter ignored(MeterRegistry registry, String reason, String description) {
      return Counter.builder("reelay_status_events_ignored").tag("reason", reason).description(description).register(registry);
    }
  }

  /** The topology of the status service: the events topic into this processor and its two stores. */
  static Topology topology(String eventsTopic, Settings settings, LiveEvents live, Meters meters) {
    Topology t = new Topology();
    t.addSource("events", Serdes.String().deserializer(), Serdes.ByteArray().deserializer(), eventsTopic);
    t.addProcessor("status", () -> new StatusProcessor(settings, live, meters), "events");
    t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(REQUESTS), Serdes.String(), Serdes.ByteArray()), "status");
    t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(LISTING), Serdes.String(), Serdes.String()), "status");
    return t;
  }

  private final Settings settings;
  private final LiveEvents live;
  private final Meters meters;
  private KeyValueStore<String, byte[]> requests;
  private KeyValueStore<String, String> listing;
  private int partition = -1;
  private long misroutedLogged;

  StatusProcessor(Settings settings, LiveEvents live, Meters meters) {
    this.settings = settings;
    this.live = live;
    this.meters = meters;
  }

  @Override
  public void init(ProcessorContext<Void, Void> context) {
    requests = context.getStateStore(REQUESTS);
    listing = context.getStateStore(LISTING);
    partition = context.taskId().partition();
    context.schedule(settings.purgeInterval(), PunctuationType.WALL_CLOCK_TIME, this::purge);
  }

  @Override
  public void process(Record<String, byte[]> record) {
    meters.consumed().increment();
    Event event = read(record);
    if (event == null) {
      meters.unreadable().increment();
      return;
    }
    String key = Listing.requestKey(StoredRequest.tenantOf(event), event.requestId());
    if (!key.equals(record.key())) {
      meters.misrouted().increment();
      if (misroutedLogged++ % 1000 == 0) {
        log.warn("skipping an event whose record key is not tenant/requestId, in partition {} (events must be keyed so)", partition);
      }
      return;
    }
    StoredRequest before = stored(key);
    Instant received = Instant.ofEpochMilli(record.timestamp());
    StoredRequest after = before == null ? StoredRequest.first(event, received) : before.with(event, received, settings.maxHistory());
    if (after == null) {
      meters.duplicates().increment();
      return;
    }
    if (before != null) {
      unindex(key, before);
    }
    requests.put(key, after.toBytes(settings.maxHistoryBytes()));
    index(key, after);
    live.publish(key, event);
  }

  @Override
  public void close() {
    if (partition >= 0) {
      live.partitionMoved(partition);
    }
  }

  private Event read(Record<String, byte[]> record) {
    if (record.value() == null) {
      return null;
    }
    try {
      Event e = Json.mapper().readValue(record.value(), Event.class);
      return e == null || e.requestId() == null || e.requestId().isBlank() ? null : e;
    } catch (Exception e) {
      // the content may be anything, including secrets: log where, never what
      log.warn("skipping an unreadable event in partition {} ({})", partition, e.getClass().getSimpleName());
      return null;
    }
  }

  private StoredRequest stored(String key) {
    byte[] bytes = requests.get(key);
    if (bytes == null) {
      return null;
    }
    try {
      return StoredRequest.fromBytes(bytes);
    } catch (RuntimeException e) {
      log.warn("replacing an unreadable stored request in partition {} ({})", partition, e.getClass().getSimpleName());
      return null;
    }
  }

  private void index(String key, StoredRequest r) {
    Event latest = r.latest();
    String position = Listing.position(r.updatedAt(), latest.requestId());
    String state = latest.state() == null ? "" : latest.state().name();
    listing.put(Listing.tenantPrefix(StoredRequest.tenantOf(latest)) + position, state);
    if (latest.sessionKey() != null) {
      listing.put(Listing.sessionPrefix(StoredRequest.tenantOf(latest), latest.sessionKey()) + position, state);
    }
    listing.put(Listing.expiryKey(r.updatedAt(), key), "");
  }

  private void unindex(String key, StoredRequest r) {
    Event latest = r.latest();
    String position = Listing.position(r.updatedAt(), latest.requestId());
    listing.delete(Listing.tenantPrefix(StoredRequest.tenantOf(latest)) + position);
    if (latest.sessionKey() != null) {
      listing.delete(Listing.sessionPrefix(StoredRequest.tenantOf(latest), latest.sessionKey()) + position);
    }
    listing.delete(Listing.expiryKey(r.updatedAt(), key));
  }

  /** Deletes (a batch of) the requests last updated before now minus the retention. */
  void purge(long nowMillis) {
    long cutoff = nowMillis - settings.retention().toMillis();
    List<String> expired = new ArrayList<>();
    try (KeyValueIterator<String, String> it = listing.range(Listing.EXPIRY_PREFIX, Listing.EXPIRY_END)) {
      while (it.hasNext() && expired.size() < PURGE_BATCH) {
        KeyValue<String, String> kv = it.next();
        if (Listing.expiryMillis(kv.key) >= cutoff) {
          break;
        }
        expired.add(kv.key);
      }
    }
    for (String expiryKey : expired) {
      String key = Listing.expiryRequestKey(expiryKey);
      StoredRequest r = stored(key);
      if (r != null) {
        unindex(key, r);
        requests.delete(key);
      }
      listing.delete(expiryKey);
      meters.purged().increment();
    }
    if (!expired.isEmpty()) {
      log.info("purged {} request(s) of partition {} not updated within {}", expired.size(), partition, settings.retention());
    }
  }
}
