package io.reelay.loadtest.bench;

import io.reelay.protocol.Action;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.Topics;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The load's side of Kafka: requests published as any producer would ({@code reelay.requests},
 * keyed by session), and every terminal event read from {@code reelay.completions} as it arrives,
 * with when it arrived, so a scenario knows what finished, when, and whether anything ended twice.
 */
public final class Traffic implements AutoCloseable {

  /** The first terminal event of a request and when it was read (nanoTime). */
  public record Done(Event event, long arrivedNanos) {}

  // nanoTime → epoch: arrivals compared with what other processes stamp (the simulator's completedAt)
  private static final long EPOCH_MINUS_NANO = System.currentTimeMillis() * 1_000_000 - System.nanoTime();

  private final KafkaProducer<String, byte[]> producer;
  private final Topics topics;
  private final Map<String, Long> sentNanos = new ConcurrentHashMap<>();
  private final Map<String, Done> done = new ConcurrentHashMap<>();
  // every distinct terminal event (seq:state) per request: two means the request ended twice
  private final Map<String, Set<String>> ends = new ConcurrentHashMap<>();
  // with events: per session, when each of its events was read (nanoTime)
  private final Map<String, List<Long>> sessionEvents = new ConcurrentHashMap<>();
  // with events: every event of each request, in the order read
  private final Map<String, List<Event>> requestEvents = new ConcurrentHashMap<>();
  private final boolean events;
  private final AtomicInteger duplicates = new AtomicInteger();
  private final AtomicLong lastArrival = new AtomicLong();
  private final Thread reader;
  private volatile boolean running = true;

  public Traffic(String bootstrap, Topics topics) {
    this(bootstrap, topics, false);
  }

  /** {@code events}: also read every event (not only the terminal ones), to see when each session moves. */
  public Traffic(String bootstrap, Topics topics, boolean events) {
    this.topics = topics;
    this.events = events;
    this.producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
        ProducerConfig.LINGER_MS_CONFIG, 2, ProducerConfig.ACKS_CONFIG, "all"), new StringSerializer(), new ByteArraySerializer());
    KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(Map.of(
        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
        ConsumerConfig.GROUP_ID_CONFIG, "loadtest-reader-" + System.nanoTime(),
        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
        ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false), new StringDeserializer(), new ByteArrayDeserializer());
    consumer.subscribe(events ? List.of(topics.completions(), topics.events()) : List.of(topics.completions()));
    this.reader = new Thread(() -> read(consumer), "loadtest-completions");
    reader.setDaemon(true);
    reader.start();
  }

  private void read(KafkaConsumer<String, byte[]> consumer) {
    try (consumer) {
      while (running) {
        for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(100))) {
          long now = System.nanoTime();
          Event e = Json.read(r.value(), Event.class);
          if (r.topic().equals(topics.events())) {
            sessionEvents.computeIfAbsent(e.sessionKey(), k -> Collections.synchronizedList(new ArrayList<>()))
                .add(now);
            requestEvents.computeIfAbsent(e.requestId(), k -> Collections.synchronizedList(new ArrayList<>())).add(e);
            continue;
          }
          ends.computeIfAbsent(e.requestId(), k -> ConcurrentHashMap.newKeySet()).add(e.seq() + ":" + e.state());
          if (done.putIfAbsent(e.requestId(), new Done(e, now)) != null) {
            duplicates.incrementAndGet();
          }
          lastArrival.set(now);
        }
      }
    }
  }

  /** Publishes a request of {@code action} (or an agent text) in {@code session}; answers its requestId. */
  public String send(String session, Action action, String text) {
    String id = session + "-" + System.nanoTime() + "-" + sentNanos.size();
    Request r = new Request(Request.VERSION, id, session, null, text, action, null, null, null, null, null, Instant.now());
    sentNanos.put(id, System.nanoTime());
    producer.send(new ProducerRecord<>(topics.requests(), session, Json.bytes(r)));
    return id;
  }

  /**
   * Signs in {@code sessions} sessions named {@code prefix0…} with one {@code action} request each,
   * and waits until all ended: what a scenario then measures is the steady state, not sign-ins.
   */
  public void warm(String prefix, int sessions, Action action, Duration timeout) throws InterruptedException {
    List<String> ids = new ArrayList<>(sessions);
    for (int s = 0; s < sessions; s++) {
      ids.add(send(prefix + s, action, null));
    }
    flush();
    int ended = awaitAll(ids, timeout);
    if (ended < sessions) {
      throw new IllegalStateException("only " + ended + " of " + sessions + " sessions signed in within " + timeout.toSeconds()
          + " s; see the worker's log");
    }
  }

  /** A {@link System#nanoTime()} of this process (an arrival) as epoch milliseconds, comparable with other processes' clocks. */
  public static long epochMillis(long nanoTime) {
    return (nanoTime + EPOCH_MINUS_NANO) / 1_000_000;
  }

  public void flush() {
    producer.flush();
  }

  /** When {@code requestId} was sent (nanoTime), or null. */
  public Long sentAt(String requestId) {
    return sentNanos.get(requestId);
  }

  public Done done(String requestId) {
    return done.get(requestId);
  }

  public int doneCount() {
    return done.size();
  }

  /** Requests that ended twice: two different terminal events (another seq or state), not the same one read again. */
  public long endedTwice() {
    return ends.values().stream().filter(s -> s.size() > 1).count();
  }

  /** When the events of {@code session} were read (nanoTime), in order; empty unless built to read events. */
  public List<Long> sessionEvents(String session) {
    List<Long> l = sessionEvents.get(session);
    if (l == null) {
      return List.of();
    }
    synchronized (l) {
      return List.copyOf(l);
    }
  }

  /** Every event of {@code requestId} read so far, in order; empty unless built to read events. */
  public List<Event> events(String requestId) {
    List<Event> l = requestEvents.get(requestId);
    if (l == null) {
      return List.of();
    }
    synchronized (l) {
      return List.copyOf(l);
    }
  }

  /** Terminal events read for a request that had one already (the same one again counts too). */
  public int duplicates() {
    return duplicates.get();
  }

  public long lastArrivalNanos() {
    return lastArrival.get();
  }

  /** Waits until every one of {@code ids} has ended, or {@code timeout}; answers how many ended. */
  public int awaitAll(List<String> ids, Duration timeout) throws InterruptedException {
    long until = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < until) {
      if (ids.stream().allMatch(done::containsKey)) {
        return ids.size();
      }
      Thread.sleep(50);
    }
    return (int) ids.stream().filter(done::containsKey).count();
  }

  /** How many of {@code ids} ended COMPLETED. */
  public long completed(List<String> ids) {
    return ids.stream().map(done::get).filter(d -> d != null && d.event().state() == RequestState.COMPLETED).count();
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    reader.join(5000);
    producer.close(Duration.ofSeconds(5));
  }
}
